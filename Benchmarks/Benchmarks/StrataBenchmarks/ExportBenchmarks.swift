import Benchmark
import Foundation
import Strata

/// Export workloads (issue 5). One iteration = one complete export into a
/// fresh directory; MB/s of output = output bytes (printed once) / wall clock.
func registerExportBenchmarks() {
    func fresh(_ name: String) -> String {
        let p = "/tmp/strata-bench-export-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: p)
        return p
    }

    Benchmark("export_jsonl_raw_full") { benchmark in
        for _ in benchmark.scaledIterations {
            let out = fresh("jsonl")
            benchmark.startMeasurement()
            let r = try Exporter(storePath: Corpus.storePath, outPath: out, spec: ExportSpec()).run()
            benchmark.stopMeasurement()
            blackHole(r.bytes)
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    Benchmark("export_jsonl_largest_partition") { benchmark in
        let reader = try StoreReader(path: Corpus.storePath)
        var counts: [PartitionKey: Int] = [:]
        try reader.scan { e in counts[PartitionKey(domain: e.domain, month: e.month), default: 0] += 1; return true }
        reader.close()
        let p = counts.max { $0.value < $1.value }!.key
        var spec = ExportSpec()
        spec.domains = [p.domain]
        spec.fromMonth = p.month
        spec.toMonth = p.month
        for _ in benchmark.scaledIterations {
            let out = fresh("part")
            benchmark.startMeasurement()
            blackHole(try Exporter(storePath: Corpus.storePath, outPath: out, spec: spec).run())
            benchmark.stopMeasurement()
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    Benchmark("export_parquet_full") { benchmark in
        for _ in benchmark.scaledIterations {
            let out = fresh("parquet")
            benchmark.startMeasurement()
            blackHole(try Exporter(storePath: Corpus.storePath, outPath: out, spec: ExportSpec(format: .parquet)).run())
            benchmark.stopMeasurement()
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    Benchmark("export_up_to_date_check") { benchmark in
        let out = fresh("uptodate")
        _ = try Exporter(storePath: Corpus.storePath, outPath: out, spec: ExportSpec()).run()
        for _ in benchmark.scaledIterations {
            let r = try Exporter(storePath: Corpus.storePath, outPath: out, spec: ExportSpec()).run()
            precondition(r.upToDate)
        }
        try? FileManager.default.removeItem(atPath: out)
    }
}
