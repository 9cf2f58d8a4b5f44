import ArgumentParser

/// The `strata` inspection and job tool. Every command takes the store path first.
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Inspect, fill, compact and export Strata stores of ML training examples.",
        discussion: """
        Exit codes: 0 done; 3 (verify) recoverable: leftovers the next writer open \
        repairs, no damage; 64 usage error; 65 corruption found or input rejected; \
        74 I/O failure; 75 store locked by another writer.
        """,
        version: "strata 0.1 (format v1)",
        subcommands: StrataCommand.allSubcommands.map { $0 }
    )

    /// Every subcommand; each lives in its own file under Commands/ and
    /// states its allocation profile there (`StrataSubcommand`).
    static let allSubcommands: [any StrataSubcommand.Type] = [
        IngestCommand.self,
        GetCommand.self,
        StatsCommand.self,
        InitCommand.self,
        IndexCommand.self,
        CompactCommand.self,
        AnnotateCommand.self,
        ExportCommand.self,
        InspectCommand.self,
        VerifyCommand.self,
        DumpCommand.self,
        ScanCommand.self,
        MaintainCommand.self,
    ]
}
