import ArgumentParser
import Foundation

if let name = repeatedOption(in: Array(CommandLine.arguments.dropFirst())) {
    FileHandle.standardError.write(Data("strata: error: --\(name) given more than once; it may be given once (only --\(repeatableOptions.sorted().joined(separator: ", --")) may repeat) [usage]\n".utf8))
    exit(64)
}
// glibc's malloc settings come from the command's allocation profile (each
// command file states it), before the command allocates anything.
StrataCommand.allocationProfile(forSubcommand: CommandLine.arguments.dropFirst().first).apply()
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
