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

    // Issue 16: every other schema within 25% of the raw one.
    for schema in [JSONLSchema.chat, .alpaca] {
        Benchmark("export_jsonl_\(schema.rawValue)_full") { benchmark in
            for _ in benchmark.scaledIterations {
                let out = fresh("jsonl-\(schema.rawValue)")
                benchmark.startMeasurement()
                let r = try Exporter(storePath: Corpus.storePath, outPath: out, spec: ExportSpec(format: .jsonl, schema: schema)).run()
                benchmark.stopMeasurement()
                blackHole(r.bytes)
                try? FileManager.default.removeItem(atPath: out)
            }
        }
    }

    // Issue 16 item 0 without process start: open, read one partition, render what `strata scan` prints.
    Benchmark("scan_largest_partition_jsonl") { benchmark in
        let reader = try StoreReader(path: Corpus.storePath)
        var counts: [PartitionKey: Int] = [:]
        try reader.scan { e in counts[PartitionKey(domain: e.domain, month: e.month), default: 0] += 1; return true }
        reader.close()
        let p = counts.max { $0.value < $1.value }!.key
        let filter = ScanFilter(domains: [p.domain], fromMonth: p.month, toMonth: p.month, predicate: nil)
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            let r = try StoreReader(path: Corpus.storePath)
            var line: [UInt8] = []
            var bytes = 0
            try r.scan(filter) { e in
                line.removeAll(keepingCapacity: true)
                e.appendJSON(to: &line)
                JSONWriter.makeLineSafe(&line)
                bytes += line.count + 1
                return true
            }
            r.close()
            benchmark.stopMeasurement()
            blackHole(bytes)
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

    // Issue 16 item 4: `_compacted` exports the compacted twin of the same store
    // from its columnar streams; compare the two in the same run.
    for (name, store) in [("export_parquet_full", { Corpus.storePath }), ("export_parquet_full_compacted", { Corpus.compactedStorePath })] {
        Benchmark(name) { benchmark in
            let storePath = store()
            for _ in benchmark.scaledIterations {
                let out = fresh(name)
                benchmark.startMeasurement()
                blackHole(try Exporter(storePath: storePath, outPath: out, spec: ExportSpec(format: .parquet)).run())
                benchmark.stopMeasurement()
                try? FileManager.default.removeItem(atPath: out)
            }
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
