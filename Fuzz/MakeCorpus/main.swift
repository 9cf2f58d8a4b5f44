// Writes the seed corpus Fuzz/corpus/<target>/ from real Strata bytes.
// Run by `tools/fuzz.sh --make-corpus` (not part of a normal fuzz run).
import Foundation
@testable import Strata

@main struct MakeCorpus {
    static func write(_ target: String, _ name: String, _ bytes: [UInt8]) throws {
        let dir = CommandLine.arguments[1] + "/" + target
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
    }

    static func examples() -> [Example] {
        [
            Example(content: .instruction(instruction: "Summarize", input: "", output: "ok"), domain: "metabolic_diabetes", timestampMillis: 1_735_689_600_000),
            Example(content: .instruction(instruction: "Explain é 日本", input: "x", output: "y"), domain: "d", timestampMillis: -5,
                    qualityScore: 0.5, tags: ["a", "b"], source: "pipe", metadataJSON: #"{"n":12345678901234567890,"f":1.5e300,"z":-0.0}"#),
            Example(content: .promptResponse(prompt: "hi", response: "yo"), domain: "d", timestampMillis: 0, qualityScore: 1),
            Example(content: .chat([Message(role: .system, content: "s"), Message(role: .user, content: "u"),
                                    Message(role: .assistant, content: "a"), Message(role: .tool, content: "t")]),
                    domain: "chat-x", timestampMillis: 1_700_000_000_000, tags: ["t"]),
        ]
    }

    static func main() throws {
        let ex = examples()
        // Record bodies.
        var entries = ByteWriter()
        for (i, e) in ex.enumerated() {
            var w = ByteWriter()
            RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
            entries.append(w.bytes)
            let skip = RecordCodec.varintSize(UInt64(w.bytes.count)) + 1
            try write("RecordDecoder", "example-\(i)", Array(w.bytes[skip...]))
        }
        // Block frames, one per codec; the leading byte 0 = checksum as is, 1 = recompute.
        var scratch: [UInt8] = []
        for (name, codec) in [("lz4", BlockCodec.lz4), ("raw", .raw), ("zstd", .zstd(level: 3, dictionary: nil))] {
            var frame: [UInt8] = []
            try entries.bytes.withUnsafeBytes {
                try FrameCodec.appendBlock(entries: $0, entryCount: ex.count, codec: codec, scratch: &scratch, to: &frame)
            }
            try write("BlockDecoder", "block-\(name)", [0] + frame)
            try write("BlockDecoder", "block-\(name)-fix", [1] + frame)
        }
        // A store: sealed segments, an active one, the manifest.
        let dir = NSTemporaryDirectory() + "strata-corpus-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        var o = StoreOptions()
        o.blockTargetBytes = 200
        o.commitPolicy = .manual
        let store = try Store.open(at: dir, options: o)
        try store.append(contentsOf: ex.map { var e = $0; e.domain = "d"; e.timestampMillis = 1_735_689_600_000; return e })
        try store.commit()
        let seg = dir + "/domain=d/month=2025-01/seg-0000000001.strata"
        try write("SegmentReader", "active", Array(try Data(contentsOf: URL(fileURLWithPath: seg))))
        let manifestActive = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/MANIFEST")))
        try store.close()
        try write("SegmentReader", "sealed", Array(try Data(contentsOf: URL(fileURLWithPath: seg))))
        try write("SegmentReader", "header-only", Array(try Data(contentsOf: URL(fileURLWithPath: seg)).prefix(32)))
        try write("ManifestParser", "active", [0] + manifestActive)
        try write("ManifestParser", "sealed", [0] + Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/MANIFEST"))))
        try write("ManifestParser", "fix", [1] + manifestActive)
        try? FileManager.default.removeItem(atPath: dir)
        // Ingest input: JSONL in the seeds' shapes, a JSON array, and hostile lines.
        let jsonl = """
        {"instruction":"Summarize","input":"","output":"ok","domain":"metabolic_diabetes","timestamp":"2025-01-02T03:04:05Z","quality_score":0.9,"tags":["a"],"source":"etl","metadata":{"user_id":"u1","n":12345678901234567890}}
        {"prompt":"hi","response":"yo","domain":"d","timestamp":1735689600}
        {"messages":[{"role":"user","content":"hi \\u00e9 \\ud83d\\ude00"},{"role":"assistant","content":"yo"}],"domain":"c","timestamp":1735689600123}
        {"prompt":"p","response":"r","domain":"../x","timestamp":0}
        {"prompt":"p","response":"r","domain":"d","timestamp":0,"quality_score":1e400}
        {"prompt":"\\ud800","response":"r","domain":"d","timestamp":0}
        {"prompt":"p","prompt":"q","response":"r","domain":"d","timestamp":0,"metadata":{"a":[[[[{"b":null}]]]]}}
        not json

        """
        try write("IngestParser", "lines.jsonl", Array(jsonl.utf8))
        try write("IngestParser", "array.json", Array(#"[{"prompt":"hi","response":"yo","domain":"d","timestamp":"2025-01-01T00:00:00+02:00"}, {"prompt":"a","response":"b","domain":"d","timestamp":1}]"#.utf8))
        // Dictionary files (byte 0: bit 0 = fix length and checksum, bits 1... = expected id - 1):
        // version 2 of a trained dictionary, the same fixed, and version 1 (the dictionary as is).
        var samples: [UInt8] = [], sizes: [Int] = []
        for i in 0..<400 {
            var e = ex[i % ex.count]
            e.timestampMillis += Int64(i)
            e.metadataJSON = #"{"user_id":"u\#(i % 37)","latency_ms":\#(i * 7 % 900),"tier":"t\#(i % 3)"}"#
            var w = ByteWriter()
            RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
            samples += w.bytes
            sizes.append(w.bytes.count)
        }
        let trained = ZstdCodec.trainDictionaryFast(buffer: samples, sizes: sizes, capacity: 4 << 10, level: 3)!
        let v2 = try DictionaryFile.encode(id: 1, dictionary: trained, level: 3)
        try write("DictionaryFile", "v2", [0] + v2)
        try write("DictionaryFile", "v2-fix", [1] + v2)
        try write("DictionaryFile", "v1", [0] + DictionaryFile.frame(version: 1, id: 1, stored: trained, dictionaryLength: 0))
        try write("IngestParser", "bom-crlf.jsonl", [0xEF, 0xBB, 0xBF] + Array("{\"prompt\":\"a\",\"response\":\"b\",\"domain\":\"d\",\"timestamp\":1}\r\n".utf8))
    }
}
