// libFuzzer target: the example record decoder (SPEC.md §4.2).
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    expectStrataError {
        var r = ByteReader(raw, path: "fuzz")
        let e = try RecordCodec.decodeExampleBody(&r)
        // A decoded example must re-encode to a body that decodes to itself.
        var w = ByteWriter()
        RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
        try w.bytes.withUnsafeBytes { all in
            var it = EntryIterator(all, path: "re-encoded", blockOffset: 0)
            guard let (kind, body, _) = try it.next(), kind == EntryKind.example.rawValue else { fatalError("re-encoding lost the entry") }
            var b = body
            let again = try RecordCodec.decodeExampleBody(&b)
            precondition(again == e, "decode(encode(e)) != e")
        }
    }
    return 0
}
