import ArgumentParser
import Foundation

if let name = repeatedOption(in: Array(CommandLine.arguments.dropFirst())) {
    FileHandle.standardError.write(Data("strata: error: --\(name) given more than once; it may be given once (only --\(repeatableOptions.sorted().joined(separator: ", --")) may repeat) [usage]\n".utf8))
    exit(64)
}
/// glibc's mallopt (not in Swift's Glibc module); a no-op where it is absent.
func setMallocOption(_ option: Int32, _ value: Int32) {
    guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
    _ = unsafeBitCast(f, to: (@convention(c) (Int32, Int32) -> Int32).self)(option, value)
}
// Keep freed heap memory instead of returning it to the kernel after every
// large free (glibc's default trims above 128 KiB): ingest and export churn
// through ~100 KiB block buffers on several threads, and each trim made the
// next allocation fault in fresh zeroed pages (~6% of ingest CPU in `perf`).
// Only the release of memory below the peak is deferred.
setMallocOption(-1, 256 << 20)  // M_TRIM_THRESHOLD
// Setting it also fixes glibc's mmap threshold at 128 KiB, so every larger
// buffer is mapped, faulted in and unmapped each time. Compaction and export
// allocate such buffers per block and partition: from the heap (threshold
// 4 MiB) c200 takes 19k fewer page faults to compact and 18k fewer to
// export as Parquet, for 1.6 and 6.6 MB more peak RSS. Ingest keeps 128 KiB:
// with 4 MiB (or glibc's dynamic threshold) its peak RSS at 5M examples
// rose from 386.7 to 444.1 (437.2) MB.
if CommandLine.arguments.count > 1, ["compact", "export", "maintain"].contains(CommandLine.arguments[1]) {
    setMallocOption(-3, 4 << 20)  // M_MMAP_THRESHOLD
}
// `strata scan` in its plain forms skips ArgumentParser, whose reflection over
// the command's options was the largest fixed cost of a one-partition scan;
// anything else (help, errors, unusual forms) is parsed by ArgumentParser.
let arguments = CommandLine.arguments
if arguments.count > 2, arguments[1] == "scan", let scan = ScanArguments.parseFast(arguments[2...]) {
    do {
        try scan.run()
        exit(0)
    } catch let e as ExitCode {
        exit(e.rawValue)
    } catch {
        StrataCommand.exit(withError: error)
    }
}
StrataCommand.main()
