import ArgumentParser
import Foundation

if let name = repeatedOption(in: Array(CommandLine.arguments.dropFirst())) {
    FileHandle.standardError.write(Data("strata: error: --\(name) given more than once; it may be given once (only --\(repeatableOptions.sorted().joined(separator: ", --")) may repeat) [usage]\n".utf8))
    exit(64)
}
// Keep freed heap memory instead of returning it to the kernel after every
// large free (glibc's default trims above 128 KiB): ingest and export churn
// through ~100 KiB block buffers on several threads, and each trim made the
// next allocation fault in fresh zeroed pages (~6% of ingest CPU in `perf`).
// Peak RSS is unchanged; only the release of memory below the peak is deferred.
// (mallopt is not in Swift's Glibc module; M_TRIM_THRESHOLD is -1 in <malloc.h>.)
if let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
    _ = unsafeBitCast(f, to: (@convention(c) (Int32, Int32) -> Int32).self)(-1, 256 << 20)
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
