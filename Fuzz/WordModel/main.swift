// libFuzzer target: the word model (SPEC.md §6.1) — its parser and its decoder
// of coded `texts` streams (columnar encoding 3, §3.6). Input byte 0 picks:
//   0: the rest is a serialized model; what parses re-serializes to the bytes it consumed.
//   1: bytes 1..2 are a little-endian rawLength, the rest a coded stream decoded with a
//      fixed model; a decode that succeeds yields exactly rawLength bytes.
//   2: the rest is text: as one str(x) item it must code (when smaller) and decode exactly.
@testable import Strata

let model: WordModel = {
    var t = WordModel.Trainer()
    var w = ByteWriter()
    for s in ["the cat sat on the mat. the dog sat", "a cat, a dog; the end.\n\nNew é 日本 🚀 words", "the the the cat cat"] {
        w.varint(s.utf8.count); w.append(Array(s.utf8))
    }
    w.bytes.withUnsafeBytes { t.add(stream: $0) }
    return t.model()!
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let rest = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    switch data[0] % 3 {
    case 0:
        expectStrataError {
            var r = ByteReader(rest, path: "fuzz/model")
            let m = try WordModel.parse(&r)
            precondition(m.serialized() == Array(rest[0..<r.position]), "parse/serialize mismatch")
        }
    case 1:
        guard rest.count >= 2 else { return 0 }
        let rawLength = Int(rest[0]) | Int(rest[1]) << 8
        var out: [UInt8] = []
        if model.decode(UnsafeRawBufferPointer(rebasing: rest[2...]), rawLength: rawLength, into: &out) {
            precondition(out.count == rawLength, "decoded \(out.count) bytes for rawLength \(rawLength)")
        }
    default:
        var w = ByteWriter()
        w.varint(rest.count)
        w.append(rest)
        var coded: [UInt8] = []
        guard let n = w.bytes.withUnsafeBytes({ model.encode($0, into: &coded) }) else { return 0 }
        var out: [UInt8] = []
        let ok = coded[0..<n].withUnsafeBytes { model.decode($0, rawLength: w.bytes.count, into: &out) }
        precondition(ok && out == w.bytes, "word model round trip failed")
    }
    return 0
}
