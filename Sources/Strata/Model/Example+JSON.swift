/// JSON rendering of an example in the record's field names (README "The record") (used by `strata
/// get`, `strata scan` and the raw export schema; SPEC.md §8).
extension Example {
    /// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in Unix-epoch milliseconds.
    static let yearZeroMillis: Int64 = -62_167_219_200_000
    static let year10000Millis: Int64 = 253_402_300_800_000

    /// Appends one JSON object (no newline):
    /// `{"id","shape",<content fields>,"domain","timestamp","quality_score","tags","source","metadata"}`.
    /// `metadata` is the stored JSON text, verbatim.
    public func appendJSON(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":""#.utf8)
        id.appendHex(to: &out)
        out.append(contentsOf: #"","shape":""#.utf8)
        out.append(contentsOf: shape.name.utf8)
        out.append(UInt8(ascii: "\""))
        func field(_ name: String, _ value: String) {
            out.append(contentsOf: ",\"\(name)\":".utf8)
            JSONWriter.appendString(value, to: &out)
        }
        switch content {
        case let .instruction(i, input, o): field("instruction", i); field("input", input); field("output", o)
        case let .promptResponse(p, r): field("prompt", p); field("response", r)
        case let .chat(ms):
            out.append(contentsOf: #","messages":["#.utf8)
            for (k, m) in ms.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"role":""#.utf8)
                out.append(contentsOf: m.role.name.utf8)
                out.append(contentsOf: #"","content":"#.utf8)
                JSONWriter.appendString(m.content, to: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        field("domain", domain)
        out.append(contentsOf: #","timestamp":"#.utf8)
        if timestampMillis >= Example.yearZeroMillis && timestampMillis < Example.year10000Millis {
            // Years 0...9999: the same text as formatTimestampMillis, without building Strings.
            ExampleJSONEncoder.appendTimestamp(timestampMillis, &out)
        } else {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: formatTimestampMillis(timestampMillis).utf8)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #","quality_score":"#.utf8)
        if let q = qualityScore { JSONWriter.appendDouble(q, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","tags":["#.utf8)
        for (k, t) in tags.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(t, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        out.append(contentsOf: #","source":"#.utf8)
        if let s = source { JSONWriter.appendString(s, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","metadata":"#.utf8)
        out.append(contentsOf: metadataJSON.utf8)
        out.append(UInt8(ascii: "}"))
    }

    /// The object of `appendJSON` as one line (`JSONWriter.makeLineSafe`): what
    /// `strata get`, `scan` and `annotate` print, one record per line.
    public var jsonString: String {
        var out: [UInt8] = []
        appendJSON(to: &out)
        JSONWriter.makeLineSafe(&out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) for a Unix-epoch millisecond instant.
public func formatTimestampMillis(_ ms: Int64) -> String {
    let days = floorDiv(ms, 86_400_000)
    let rem = ms - days * 86_400_000
    let (y, m, d) = civilFromDays(Int(days))
    func pad(_ v: Int64, _ n: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, n - s.count)) + s
    }
    return "\(pad(Int64(y), 4))-\(pad(Int64(m), 2))-\(pad(Int64(d), 2))T\(pad(rem / 3_600_000, 2)):\(pad((rem / 60_000) % 60, 2)):\(pad((rem / 1000) % 60, 2)).\(pad(rem % 1000, 3))Z"
}
