// libFuzzer target: the ingest path for untrusted input files: the JSONL /
// JSON-array splitter, the single-pass line parser, and validation.
@testable import Strata

// nonisolated(unsafe): libFuzzer calls the entry point from one thread only.
nonisolated(unsafe) var parser = try! IngestLineParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    var splitter = JSONDocumentSplitter(maxRecordBytes: 1 << 16)
    var draft = ExampleDraft()
    func handle(_ piece: JSONDocumentSplitter.Piece) {
        guard case let .record(bytes, _) = piece else { return }
        expectStrataError {
            try parser.parse(bytes, into: &draft)
            try ExampleValidation.validate(draft)
        }
    }
    // Feed in two chunks to exercise records that span chunk boundaries.
    let cut = size / 2
    splitter.feed(UnsafeRawBufferPointer(rebasing: raw[..<cut]), handle)
    splitter.feed(UnsafeRawBufferPointer(rebasing: raw[cut...]), handle)
    splitter.finish(handle)
    return 0
}
