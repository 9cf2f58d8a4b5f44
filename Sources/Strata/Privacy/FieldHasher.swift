import Foundation

/// Replaces identifier values inside `metadata` with keyed pseudonyms at
/// ingest (SPEC.md §9): `"metadata.user_id": "u-4821"` becomes
/// `"user_id": "h:<32 hex>"`, where the hex is the first 16 bytes of
/// HMAC-SHA256(storeSecret, rawValueText). The same value always maps to the
/// same pseudonym within a store (joins and dedup keys still work) and cannot
/// be reversed without the store's secret. Everything else in metadata stays
/// byte for byte.
public struct FieldHasher: Sendable {
    /// Paths below `metadata` (e.g. ["user_id"], ["patient", "mrn"]).
    public let paths: [[String]]
    private let secret: [UInt8]
    private var scratch: [UInt8] = []

    /// `fields` are dotted paths that must start with `metadata.`.
    public init(fields: [String], secret: [UInt8]) throws {
        guard secret.count >= 16 else { throw StrataError(.usage, "field-hash secret of \(secret.count) bytes: at least 16 needed") }
        var ps: [[String]] = []
        for f in fields {
            let parts = f.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts[0] == "metadata", !parts.dropFirst().contains(where: \.isEmpty) else {
                throw StrataError(.usage, "--hash-field '\(f)' must be a dotted path inside metadata, e.g. metadata.user_id", field: f)
            }
            ps.append(Array(parts.dropFirst()))
        }
        paths = ps
        self.secret = secret
    }

    /// The pseudonym of a raw JSON value text.
    public func pseudonym<C: Collection>(of raw: C) -> String where C.Element == UInt8 {
        let mac = HMACSHA256.mac(key: secret, message: raw)
        return "h:" + mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Rewrites the draft's metadata in place (appending the new text to its storage).
    /// REQUIRES: the metadata text is valid JSON (the ingest parser validated it).
    public mutating func apply(to d: inout ExampleDraft) {
        guard d.metadata.count > 0, !paths.isEmpty else { return }
        let text = Array(d.storage[d.metadata.start..<(d.metadata.start + d.metadata.count)])
        var replacements: [(Range<Int>, String)] = []
        Self.findValues(in: text, paths: paths) { range in
            replacements.append((range, pseudonym(of: text[range])))
        }
        guard !replacements.isEmpty else { return }
        scratch.removeAll(keepingCapacity: true)
        var at = 0
        for (r, p) in replacements.sorted(by: { $0.0.lowerBound < $1.0.lowerBound }) {
            scratch.append(contentsOf: text[at..<r.lowerBound])
            scratch.append(UInt8(ascii: "\""))
            scratch.append(contentsOf: p.utf8)
            scratch.append(UInt8(ascii: "\""))
            at = r.upperBound
        }
        scratch.append(contentsOf: text[at...])
        d.metadata = d.store(scratch)
    }

    /// Calls `found` with the byte range of each scalar value (string, number,
    /// true/false) at one of `paths` in a JSON object text. Arrays and objects at
    /// a path are left alone. Iterative; the text must be valid JSON.
    static func findValues(in t: [UInt8], paths: [[String]], _ found: (Range<Int>) -> Void) {
        var i = 0
        // Stack of (isObject, current path or nil when below nothing of interest).
        var stack: [(isObject: Bool, path: [String]?)] = []
        var pendingKey: String?
        func skipWS() { while i < t.count, t[i] == 0x20 || t[i] == 0x0A || t[i] == 0x0D || t[i] == 0x09 { i += 1 } }
        func stringEnd(_ s: Int) -> Int {  // s at opening quote; returns index after closing quote
            var j = s + 1
            while j < t.count {
                if t[j] == 0x5C { j += 2; continue }
                if t[j] == 0x22 { return j + 1 }
                j += 1
            }
            return t.count
        }
        func isPrefix(_ p: [String]) -> Bool { paths.contains { $0.count > p.count && Array($0.prefix(p.count)) == p } }
        while i < t.count {
            skipWS()
            guard i < t.count else { break }
            let c = t[i]
            let inObject = stack.last?.isObject ?? false
            if inObject && pendingKey == nil && c == 0x22 {
                let e = stringEnd(i)
                let keyBytes = t[(i + 1)..<max(i + 1, e - 1)]
                pendingKey = keyBytes.contains(0x5C)
                    ? ((try? JSONSerialization.jsonObject(with: Data(t[i..<e]), options: .fragmentsAllowed)) as? String ?? "")
                    : String(decoding: keyBytes, as: UTF8.self)
                i = e
                skipWS()
                if i < t.count, t[i] == 0x3A { i += 1 }
                continue
            }
            switch c {
            case 0x2C: i += 1; continue                                  // ,
            case 0x7D, 0x5D: stack.removeLast(); i += 1; pendingKey = nil; continue  // } ]
            default: break
            }
            // A value starts here; its path:
            var valuePath: [String]? = nil
            if stack.isEmpty { valuePath = [] } else if let parent = stack.last!.path, let k = pendingKey { valuePath = parent + [k] }
            pendingKey = nil
            if c == 0x7B || c == 0x5B {
                let keep = valuePath.map { c == 0x7B && isPrefix($0) } ?? false
                stack.append((c == 0x7B, keep ? valuePath : nil))
                i += 1
                continue
            }
            let start = i
            if c == 0x22 { i = stringEnd(i) } else {
                while i < t.count, !(t[i] == 0x2C || t[i] == 0x7D || t[i] == 0x5D || t[i] == 0x20 || t[i] == 0x0A || t[i] == 0x0D || t[i] == 0x09) { i += 1 }
            }
            if let p = valuePath, paths.contains(p), !(c == 0x6E) { found(start..<i) }  // null stays null
        }
    }
}
