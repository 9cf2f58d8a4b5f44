import Foundation
import Testing
@testable import Strata

/// Throughput and size measurement, not a timed assertion: runs only when
/// STRATA_PARQUET_BENCH_DIR is set, e.g.
///
///     STRATA_PARQUET_BENCH_DIR=/tmp/pqbench STRATA_PARQUET_BENCH_MB=200 \
///       swift test -c release -Xswiftc -enable-testing --filter ParquetBenchmark
///     python3 Tests/python/compare_parquet_size.py /tmp/pqbench
///
/// Writes `strata.parquet`, the same rows as `rows.jsonl` (for DuckDB), and `bench.json`.
@Suite struct ParquetBenchmarkTests {
    static let dir = ProcessInfo.processInfo.environment["STRATA_PARQUET_BENCH_DIR"]

    static let schema = ParquetSchema([
        ParquetField("id", .string, nullable: false),
        ParquetField("domain", .string, nullable: false),
        ParquetField("shape", .string, nullable: false),
        ParquetField("instruction", .string),
        ParquetField("input", .string),
        ParquetField("output", .string),
        ParquetField("messages", .list(ParquetField("element", .record([
            ParquetField("role", .string, nullable: false), ParquetField("content", .string, nullable: false),
        ]), nullable: false))),
        ParquetField("quality_score", .double),
        ParquetField("timestamp", .timestampMillis, nullable: false),
        ParquetField("tags", .list(ParquetField("element", .string, nullable: false)), nullable: false),
        ParquetField("source", .string),
        ParquetField("metadata", .json),
    ])

    @Test(.enabled(if: dir != nil)) func parquetBenchmarkWritesStringHeavyRows() throws {
        let dir = URL(fileURLWithPath: Self.dir!)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let targetMB = Int(ProcessInfo.processInfo.environment["STRATA_PARQUET_BENCH_MB"] ?? "200") ?? 200
        var r = ParquetTestSupport.Random(state: 2026)

        // A Zipf-like vocabulary of made-up words, so text compresses like prose, not like noise or repeats.
        let syllables = ["ka", "lo", "mi", "tre", "son", "gly", "co", "se", "in", "su", "lin", "pa", "ti", "ent", "ba",
                         "ro", "di", "ab", "e", "ther", "py", "ma", "no", "re", "st", "qu", "al", "ver", "ix", "um"]
        let vocabulary = (0..<5000).map { _ in (0..<(1 + r.int(4))).map { _ in syllables[r.int(syllables.count)] }.joined() }
        func word() -> String {
            let u = Double(r.next() >> 11) / Double(1 << 53)
            return vocabulary[min(vocabulary.count - 1, Int(Double(vocabulary.count) * u * u * u))]
        }
        func text(_ words: Int) -> String {
            var s = ""
            for k in 0..<words {
                if k > 0 { s += k % 12 == 0 ? ". " : " " }
                s += word()
            }
            return s + "."
        }
        let domains = ["metabolic_diabetes", "cardiology", "mental_health", "oncology", "nutrition", "pediatrics", "general", "respiratory"]
        let sources = ["capture-api", "etl-module-4", "lora-builder", "manual"]
        let templates = ["Summarize the following clinical note for the patient.", "Extract the key findings from this narrative.",
                         "Answer the question using the context below.", "Rewrite the text in plain language."]

        var rows: [[ParquetValue]] = []
        var jsonl = ""
        var rawBytes = 0
        let jsonlURL = dir.appendingPathComponent("rows.jsonl")
        _ = FileManager.default.createFile(atPath: jsonlURL.path, contents: nil)
        let jsonlHandle = try FileHandle(forWritingTo: jsonlURL)
        var i = 0
        while rawBytes < targetMB << 20 {
            let shape = ["instruction", "prompt_response", "chat"][r.int(3)]
            var instruction: ParquetValue = .null, input: ParquetValue = .null, output: ParquetValue = .null, messages: ParquetValue = .null
            switch shape {
            case "instruction":
                instruction = .string(templates[r.int(templates.count)] + " " + text(10 + r.int(20)))
                input = r.chance(30) ? .string("") : .string(text(20 + r.int(80)))
                output = .string(text(100 + r.int(300)))
            case "prompt_response":
                instruction = .string(text(10 + r.int(40)))
                output = .string(text(100 + r.int(300)))
            default:
                messages = .list((0..<(2 + r.int(5))).map { k in
                    .record([.string(k == 0 ? "system" : (k % 2 == 1 ? "user" : "assistant")), .string(text(10 + r.int(120)))])
                })
            }
            let tags: ParquetValue = .list((0..<r.int(4)).map { _ in .string(["diabetes", "gold", "reviewed", "v2", "synthetic", "en", "de"][r.int(7)]) })
            let quality: ParquetValue = r.chance(10) ? .null : .double(Double(r.int(1001)) / 1000)
            let meta = #"{"user_id":"\#(String(format: "%016llx", r.next()))","record_count":\#(r.int(50)),"health_domain":"\#(domains[r.int(domains.count)])","processing_duration_seconds":\#(Double(r.int(100000)) / 1000)}"#
            let row: [ParquetValue] = [
                .string(String(format: "%016llx%016llx", r.next(), r.next())),
                .string(domains[r.int(domains.count)]), .string(shape), instruction, input, output, messages, quality,
                .int(1_735_689_600_000 + Int64(i) * 1000 + Int64(r.int(1000))),
                tags, r.chance(20) ? .null : .string(sources[r.int(sources.count)]), .string(meta),
            ]
            jsonl += ParquetTestSupport.expectedJSON(row: row, schema: Self.schema) + "\n"
            rawBytes += Self.stringBytes(row)
            rows.append(row)
            i += 1
            if jsonl.utf8.count > 8 << 20 { try jsonlHandle.write(contentsOf: Data(jsonl.utf8)); jsonl = "" }
        }
        try jsonlHandle.write(contentsOf: Data(jsonl.utf8))
        try jsonlHandle.close()

        let path = dir.appendingPathComponent("strata.parquet").path
        // Thread CPU time too: wall time is unreliable on a shared, loaded machine.
        func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        let cpu0 = cpuSeconds()
        let clock = ContinuousClock()
        var summary: ParquetFileSummary?
        let elapsed = try clock.measure {
            let w = try ParquetWriter(path: path, schema: Self.schema, options: Self.options)
            for row in rows { try w.append(row) }
            summary = try w.close()
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpu = cpuSeconds() - cpu0
        let mbps = Double(rawBytes) / 1e6 / seconds
        let report = #"{"rows":\#(rows.count),"raw_string_bytes":\#(rawBytes),"seconds":\#(seconds),"mb_per_s":\#(mbps),"cpu_seconds":\#(cpu),"mb_per_cpu_s":\#(Double(rawBytes) / 1e6 / cpu),"file_bytes":\#(summary!.bytes),"row_groups":\#(summary!.rowGroups)}"#
        try report.write(to: dir.appendingPathComponent("bench.json"), atomically: true, encoding: .utf8)
        print("parquet benchmark: \(report)")
        #expect(summary!.rows == rows.count)
    }

    /// Defaults, overridable for experiments: STRATA_PARQUET_BENCH_PAGE_KB, STRATA_PARQUET_BENCH_LEVEL,
    /// STRATA_PARQUET_BENCH_ROW_GROUP_MB.
    static var options: ParquetWriterOptions {
        var o = ParquetWriterOptions()
        let env = ProcessInfo.processInfo.environment
        if let kb = env["STRATA_PARQUET_BENCH_PAGE_KB"].flatMap(Int.init) { o.pageMaxBytes = kb << 10 }
        if let level = env["STRATA_PARQUET_BENCH_LEVEL"].flatMap(Int32.init) { o.compressionLevel = level }
        if let mb = env["STRATA_PARQUET_BENCH_ROW_GROUP_MB"].flatMap(Int.init) { o.rowGroupMaxBytes = mb << 20 }
        return o
    }

    static func stringBytes(_ row: [ParquetValue]) -> Int {
        row.reduce(0) { n, v in
            switch v {
            case .string(let s): return n + s.utf8.count
            case .list(let items), .record(let items): return n + stringBytes(items)
            case .double, .int: return n + 8
            default: return n
            }
        }
    }
}

extension ParquetTestSupport {
    /// One JSON object for `row`.
    static func expectedJSON(row: [ParquetValue], schema: ParquetSchema) -> String {
        "{" + zip(row, schema.fields).map { jsonString($1.name) + ":" + json($0, $1.type) }.joined(separator: ",") + "}"
    }
}
