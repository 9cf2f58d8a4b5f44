import Benchmark
import Foundation
import Strata

/// Named workloads (like leveldb's db_bench). Throughput metrics count bytes of
/// JSONL input or output where that is the natural unit.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
                                           warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 10)
    registerIndexBenchmarks()

    Benchmark("ingest_jsonl_pipeline") { benchmark in
        // One iteration = the whole corpus (STRATA_BENCH_MB) through parse → dedup → LZ4 → commit → seal.
        var o = StoreOptions()
        o.commitPolicy = .manual
        let s = Corpus.scratchStore("ingest", options: o)
        let ing = try Ingester(store: s, mapping: IngestMapping())
        benchmark.startMeasurement()
        try ing.ingest(data: Corpus.bytes)
        try ing.commit()
        try s.close()
        benchmark.stopMeasurement()
        Corpus.removeStore(s)
    }

    Benchmark("append_single_manual_commit") { benchmark in
        var o = StoreOptions()
        o.commitPolicy = .manual
        let s = Corpus.scratchStore("append", options: o)
        let ex = Corpus.examples
        benchmark.startMeasurement()
        for e in ex { blackHole(try s.append(e)) }
        try s.commit()
        benchmark.stopMeasurement()
        Corpus.removeStore(s)
    }

    Benchmark("append_batch_1000") { benchmark in
        var o = StoreOptions()
        o.commitPolicy = .everyBatch
        let s = Corpus.scratchStore("batch", options: o)
        let ex = Corpus.examples
        benchmark.startMeasurement()
        var i = 0
        while i < ex.count {
            blackHole(try s.append(contentsOf: Array(ex[i..<min(i + 1000, ex.count)])))
            i += 1000
        }
        benchmark.stopMeasurement()
        Corpus.removeStore(s)
    }

    Benchmark("commit_small_batch", configuration: .init(maxIterations: 200)) { benchmark in
        // Latency of one durable commit of 10 examples spread over partitions.
        let s = Corpus.scratchStore("commit")
        let ex = Corpus.examples
        var i = 0
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            blackHole(try s.append(contentsOf: Array(ex[i..<(i + 10)])))
            benchmark.stopMeasurement()
            i += 10
        }
        Corpus.removeStore(s)
    }

    Benchmark("open_store") { benchmark in
        let p = Corpus.storePath
        for _ in benchmark.scaledIterations {
            let s = try Store.open(at: p)
            blackHole(s.count)
            try s.close()
        }
    }

    Benchmark("open_reader") { benchmark in
        let p = Corpus.storePath
        for _ in benchmark.scaledIterations {
            let r = try StoreReader(path: p)
            blackHole(try r.count)
            r.close()
        }
    }

    Benchmark("get_by_id", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let r = try StoreReader(path: Corpus.storePath)
        let ids = Corpus.examples.map(\.id).shuffled()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { blackHole(try r.get(ids[i % ids.count])) }
        benchmark.stopMeasurement()
        r.close()
    }

    // Warm get from compacted (columnar) segments: each get rebuilds one block's row bytes.
    Benchmark("get_by_id_compacted", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let r = try StoreReader(path: Corpus.compactedStorePath)
        let ids = Corpus.examples.map(\.id).shuffled()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { blackHole(try r.get(ids[i % ids.count])) }
        benchmark.stopMeasurement()
        r.close()
    }

    Benchmark("scan_all_decode") { benchmark in
        let r = try StoreReader(path: Corpus.storePath)
        for _ in benchmark.scaledIterations {
            var n = 0
            try r.scan { _ in n += 1; return true }
            blackHole(n)
        }
        r.close()
    }

    Benchmark("xxh3_128_1KiB", configuration: .init(scalingFactor: .mega)) { benchmark in
        let data = Array(Corpus.bytes.prefix(1024))
        data.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations { blackHole(XXH.hash128(raw)) }
        }
    }

    Benchmark("lz4_compress_64KiB_block", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let block = Array(Corpus.bytes.prefix(64 << 10))
        var out: [UInt8] = []
        block.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                out.removeAll(keepingCapacity: true)
                blackHole(LZ4Codec.compress(raw, appendingTo: &out))
            }
        }
    }

    Benchmark("zstd3_compress_64KiB_block", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let block = Array(Corpus.bytes.prefix(64 << 10))
        var out: [UInt8] = []
        try block.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                out.removeAll(keepingCapacity: true)
                blackHole(try ZstdCodec.compress(raw, level: 3, appendingTo: &out))
            }
        }
    }

    registerExportBenchmarks()
}
