import Foundation
import Testing
@testable import Strata

/// The real file system, recording the writeback a writer starts on each file
/// (`WritableFile.startWriteback`) and forwarding it.
// @unchecked: `ranges` is touched only under `lock`.
private final class WritebackRecordingFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let base: any FileSystem = PosixFileSystem.shared
    private let lock = NSLock()
    private var ranges: [String: [(offset: Int64, length: Int64, size: Int64)]] = [:]

    func started(_ path: String) -> [(offset: Int64, length: Int64, size: Int64)] { lock.withLock { ranges[path] ?? [] } }
    var paths: [String] { lock.withLock { Array(ranges.keys) } }
    func note(_ path: String, _ offset: Int64, _ length: Int64, _ size: Int64) {
        lock.withLock { ranges[path, default: []].append((offset, length, size)) }
    }
    func openWritable(_ path: String, mode: UInt32) throws -> WritableFile {
        WritebackRecordingFile(try base.openWritable(path, mode: mode), self)
    }
    func createNew(_ path: String, mode: UInt32) throws -> WritableFile {
        WritebackRecordingFile(try base.createNew(path, mode: mode), self)
    }
}

private final class WritebackRecordingFile: WritableFile {
    let inner: WritableFile
    let fs: WritebackRecordingFileSystem
    init(_ inner: WritableFile, _ fs: WritebackRecordingFileSystem) { self.inner = inner; self.fs = fs }
    var path: String { inner.path }
    var size: Int64 { inner.size }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try inner.write(bytes) }
    func sync() throws { try inner.sync() }
    func truncate(to size: Int64) throws { try inner.truncate(to: size) }
    func close() throws { try inner.close() }
    func startWriteback(offset: Int64, length: Int64) {
        fs.note(inner.path, offset, length, inner.size)
        inner.startWriteback(offset: offset, length: length)
    }
}

@Suite struct WritebackHintTests {
    /// Segments start writeback of what they wrote as they go, in order and
    /// without gaps, only over bytes already written; the hint changes
    /// nothing that is read back.
    @Test func segmentWritebackCoversWrittenBytesInOrder() throws {
        let path = temporaryStorePath()
        let fs = WritebackRecordingFileSystem()
        var options = StoreOptions()
        options.fileSystem = fs
        let examples = makeExamples(12_000, domains: ["d0", "d1"])
        let store = try Store.open(at: path, options: options)
        _ = try store.append(contentsOf: examples)
        try store.commit()
        try store.close()

        let segments = fs.paths.filter { $0.hasSuffix(".strata") }
        #expect(!segments.isEmpty, "no segment started writeback")
        for seg in segments {
            let r = fs.started(seg)
            #expect(r.first?.offset == 0, "\(seg): first range starts at \(r.first?.offset ?? -1)")
            for (a, b) in zip(r, r.dropFirst()) { #expect(b.offset == a.offset + a.length, "\(seg): gap or overlap") }
            for x in r {
                #expect(x.length >= ActiveSegment.writebackStep, "\(seg): range of \(x.length) bytes below the step")
                #expect(x.offset + x.length <= x.size, "\(seg): range beyond the bytes written")
            }
        }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        for e in examples.prefix(200) { #expect(try reader.get(e.id)?.id == e.id) }
        #expect(try reader.count == examples.count)
    }
}
