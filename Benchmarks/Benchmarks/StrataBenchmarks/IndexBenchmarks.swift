import Benchmark
import Foundation
@_spi(Benchmarks) import Strata

/// Dedup index workloads (issue 3). Table size: STRATA_BENCH_INDEX_IDS (default 1M).
/// Throughput is lookups per second on one core; `index_build` reports resident
/// memory for the table (divide by the id count for bytes per example).
let indexIDs = Int(ProcessInfo.processInfo.environment["STRATA_BENCH_INDEX_IDS"] ?? "") ?? 1_000_000
let indexProbe = DedupTableProbe(count: indexIDs)

func registerIndexBenchmarks() {
    let lookup = Benchmark.Configuration(metrics: [.wallClock, .throughput], scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 20)

    Benchmark("index_lookup_hit", configuration: lookup) { benchmark in
        let p = indexProbe, n = UInt64(p.count)
        // Ids generated outside the timed region, in a scattered order.
        let ids = (0..<UInt64(benchmark.scaledIterations.count)).map { DedupTableProbe.syntheticID(($0 &* 7919) % n) }
        benchmark.startMeasurement()
        for id in ids { blackHole(p.contains(id)) }
        benchmark.stopMeasurement()
    }

    Benchmark("index_lookup_miss", configuration: lookup) { benchmark in
        let p = indexProbe
        let ids = (0..<UInt64(benchmark.scaledIterations.count)).map { DedupTableProbe.syntheticID($0, salt: 99) }
        benchmark.startMeasurement()
        for id in ids { blackHole(p.contains(id)) }
        benchmark.stopMeasurement()
    }

    Benchmark("index_build", configuration: .init(metrics: [.wallClock, .peakMemoryResident], maxDuration: .seconds(20), maxIterations: 3)) { _ in
        blackHole(DedupTableProbe(count: indexIDs).bytesPerExample)
    }
}
