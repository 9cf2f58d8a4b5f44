import Foundation

if let name = repeatedOption(in: Array(CommandLine.arguments.dropFirst())) {
    FileHandle.standardError.write(Data("strata: error: --\(name) given more than once; it may be given once (only --\(repeatableOptions.sorted().joined(separator: ", --")) may repeat) [usage]\n".utf8))
    exit(64)
}
StrataCommand.main()
