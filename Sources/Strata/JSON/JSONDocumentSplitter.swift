/// Splits an input file, fed in chunks, into the JSON texts of its records:
/// the lines of a JSONL file, or — when the file's first non-whitespace byte
/// is `[` — the top-level elements of one JSON array.
///
/// Memory is bounded by the chunk plus one record: a record longer than
/// `maxRecordBytes` is reported as rejected (with the line it starts on) and
/// skipped without being buffered. Line numbers are 1-based. In JSONL, blank
/// lines are skipped and a `\r` before `\n` is dropped; a UTF-8 byte-order
/// mark at the start of the file is skipped. The splitter only finds record
/// boundaries; each record's JSON is validated by `IngestLineParser`.
public struct JSONDocumentSplitter {
    public enum Mode: Sendable { case undetermined, lines, array }

    /// One record, or a record (or the file structure) that was rejected.
    /// The bytes are valid only during the callback.
    public enum Piece {
        case record(UnsafeRawBufferPointer, line: Int)
        case rejected(StrataError)
    }

    public let maxRecordBytes: Int
    public private(set) var mode: Mode = .undetermined

    private var line = 1
    private var bomPossible = true
    private var consumed = 0
    private var carry: [UInt8] = []
    private var skipping = false
    private var recordLine = 1
    // Array mode.
    private var started = false
    private var ended = false
    private var trailingDataReported = false
    private var inString = false
    private var escaped = false
    private var depth = 0
    private var inElement = false
    private var afterComma = false
    private var elementLength = 0

    public init(maxRecordBytes: Int = 64 << 20) {
        precondition(maxRecordBytes > 0, "maxRecordBytes must be positive")
        self.maxRecordBytes = maxRecordBytes
    }

    /// Feeds the next chunk of the file; calls `emit` for each complete piece.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (Piece) throws -> Void) rethrows {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        // Bound only for this call, while `chunk` is valid.
        let p = base.assumingMemoryBound(to: UInt8.self)
        var k = 0
        let n = chunk.count
        let chunkStart = consumed
        consumed += n
        if mode == .undetermined {
            while k < n {
                let c = p[k]
                // A UTF-8 byte-order mark at the very start of the file (possibly split across chunks).
                let filePos = chunkStart + k
                if filePos < 3 && bomPossible {
                    if c == [0xEF, 0xBB, 0xBF][filePos] { k += 1; continue }
                    bomPossible = false
                    if filePos > 0 {
                        try emit(.rejected(StrataError(.invalidInput, "invalid UTF-8 at the start of the file", line: 1)))
                    }
                }
                bomPossible = false
                if c == 0x0A { line += 1 } else if !(c == 0x20 || c == 0x09 || c == 0x0D) {
                    mode = c == 0x5B ? .array : .lines
                    break
                }
                k += 1
            }
            if mode == .undetermined { return }
        }
        if mode == .lines { try feedLines(p, k, n, emit) } else { try feedArray(p, k, n, emit) }
    }

    /// Call at the end of the file.
    public mutating func finish(_ emit: (Piece) throws -> Void) rethrows {
        switch mode {
        case .undetermined:
            return
        case .lines:
            if skipping {
                skipping = false
                try emit(.rejected(tooLong(line)))
            } else if !carry.isEmpty {
                try carry.withUnsafeBytes { try emitLine($0, line, emit) }
            }
            carry.removeAll()
        case .array:
            if !ended {
                try emit(.rejected(StrataError(.invalidInput, "the top-level JSON array is not closed with ']' (file truncated?)",
                                               line: inElement ? recordLine : line)))
            }
            carry.removeAll()
        }
    }

    private func tooLong(_ line: Int) -> StrataError {
        StrataError(.invalidInput, "record is longer than the limit of \(maxRecordBytes) bytes; skipped", line: line)
    }

    // MARK: JSONL

    private func emitLine(_ b: UnsafeRawBufferPointer, _ line: Int, _ emit: (Piece) throws -> Void) rethrows {
        var end = b.count
        if end > 0 && b[end - 1] == 0x0D { end -= 1 }
        var blank = true
        for c in b[0..<end] where !(c == 0x20 || c == 0x09 || c == 0x0D) { blank = false; break }
        if blank { return }
        try emit(.record(UnsafeRawBufferPointer(rebasing: b[0..<end]), line: line))
    }

    /// In JSONL mode `line` is the number of the line being read until its '\n'.
    private mutating func feedLines(_ p: UnsafePointer<UInt8>, _ from: Int, _ n: Int, _ emit: (Piece) throws -> Void) rethrows {
        var start = from
        while start < n {
            // memchr stays within p[start..<n].
            guard let hit = memchr(p + start, 0x0A, n - start) else {
                if !skipping {
                    if carry.count + (n - start) > maxRecordBytes {
                        skipping = true
                        carry.removeAll()
                    } else {
                        carry.append(contentsOf: UnsafeBufferPointer(start: p + start, count: n - start))
                    }
                }
                return
            }
            let j = UnsafeRawPointer(hit) - UnsafeRawPointer(p)
            if skipping {
                skipping = false
                try emit(.rejected(tooLong(line)))
            } else if !carry.isEmpty {
                if carry.count + (j - start) > maxRecordBytes {
                    try emit(.rejected(tooLong(line)))
                } else {
                    carry.append(contentsOf: UnsafeBufferPointer(start: p + start, count: j - start))
                    try carry.withUnsafeBytes { try emitLine($0, line, emit) }
                }
                carry.removeAll(keepingCapacity: carry.capacity <= 1 << 20)
            } else if j - start > maxRecordBytes {
                try emit(.rejected(tooLong(line)))
            } else {
                try emitLine(UnsafeRawBufferPointer(start: p + start, count: j - start), line, emit)
            }
            line += 1
            start = j + 1
        }
    }

    // MARK: JSON array

    private mutating func feedArray(_ p: UnsafePointer<UInt8>, _ from: Int, _ n: Int, _ emit: (Piece) throws -> Void) rethrows {
        var k = from
        var elementStart = from  // start of the current element's bytes in this chunk
        while k < n {
            let c = p[k]
            if inString {
                if escaped {
                    escaped = false
                } else if c == 0x5C {
                    escaped = true
                } else if c == 0x22 {
                    inString = false
                } else if c == 0x0A {
                    line += 1
                }
                k += 1
                continue
            }
            if c == 0x0A { line += 1 }
            if ended {
                if !(c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) && !trailingDataReported {
                    trailingDataReported = true
                    try emit(.rejected(StrataError(.invalidInput, "unexpected data after the top-level JSON array", line: line)))
                }
                k += 1
                continue
            }
            if !started {
                // Mode detection guarantees the first non-whitespace byte is '['.
                if c == 0x5B { started = true }
                k += 1
                continue
            }
            if !inElement {
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { k += 1; continue }
                if c == 0x5D {
                    if afterComma {
                        try emit(.rejected(StrataError(.invalidInput, "trailing ',' before ']' in the top-level array", line: line)))
                    }
                    ended = true
                    k += 1
                    continue
                }
                if c == 0x2C {
                    try emit(.rejected(StrataError(.invalidInput, "empty element (',' with no value) in the top-level array", line: line)))
                    k += 1
                    continue
                }
                inElement = true
                afterComma = false
                recordLine = line
                elementStart = k
                elementLength = 0
                carry.removeAll(keepingCapacity: true)
                skipping = false
            }
            // Inside an element, outside strings.
            switch c {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                if depth > 0 { depth -= 1; break }
                if c == 0x5D {
                    try endElement(p, elementStart, k, emit)
                    ended = true
                }
            case 0x2C where depth == 0:
                try endElement(p, elementStart, k, emit)
                afterComma = true
            default: break
            }
            k += 1
        }
        if inElement && !skipping {
            let count = n - elementStart
            if elementLength + count > maxRecordBytes {
                skipping = true
                carry.removeAll()
            } else {
                carry.append(contentsOf: UnsafeBufferPointer(start: p + elementStart, count: count))
                elementLength += count
            }
        }
    }

    @inline(__always) private func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    private mutating func endElement(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ emit: (Piece) throws -> Void) rethrows {
        inElement = false
        if skipping || elementLength + (end - start) > maxRecordBytes {
            skipping = false
            carry.removeAll()
            try emit(.rejected(tooLong(recordLine)))
            return
        }
        if carry.isEmpty {
            var e = end
            while e > start, isSpace(p[e - 1]) { e -= 1 }
            try emit(.record(UnsafeRawBufferPointer(start: p + start, count: e - start), line: recordLine))
        } else {
            carry.append(contentsOf: UnsafeBufferPointer(start: p + start, count: end - start))
            while let last = carry.last, isSpace(last) { carry.removeLast() }
            try carry.withUnsafeBytes { try emit(.record($0, line: recordLine)) }
            carry.removeAll(keepingCapacity: carry.capacity <= 1 << 20)
        }
        elementLength = 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
