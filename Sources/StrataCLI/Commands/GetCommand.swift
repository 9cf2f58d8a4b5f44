import ArgumentParser
import Strata

struct GetCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print one example as a JSON object.",
        discussion: """
        By Strata id, or by a pipeline's own id declared at init (--external-id): \
        every example carrying it is printed, one per line; none is exit 64.
        Examples:
          strata get ./store 3f2a9c0d5e6b7a8190a1b2c3d4e5f601
          strata get ./store --by metadata.train_id=train_123
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Example id: 32 hex digits.") var id: String?
    @Option(help: "PATH=VALUE: look up by an external id declared at init, e.g. metadata.train_id=train_123.") var by: String?
    @Flag(help: "The example as ingested, before corrections.") var raw = false
    @Flag(help: "Also print the example's annotations, one JSON object per line, oldest first.") var history = false

    func run() throws {
        try runCommand {
            let reader = try StoreReader.open(at: store)
            defer { reader.close() }
            let found: [FoldedExample]
            switch (id, by) {
            case let (id?, nil):
                guard let exampleID = ExampleID(hex: id) else {
                    throw StrataError(.usage, "'\(id)' is not an example id (expected 32 hex digits)", field: "ID")
                }
                guard let f = try reader.getFolded(exampleID) else {
                    throw StrataError(.notFound, "no example with id \(exampleID) in this store", path: store)
                }
                found = [f]
            case let (nil, by?):
                let (path, value) = try parseBy(by)
                found = try reader.lookup(externalId: path, value: value)
                guard !found.isEmpty else { throw StrataError(.notFound, "no example with \(path) = '\(value)' in this store", path: store) }
            default:
                throw StrataError(.usage, "give an example id or --by PATH=VALUE (one of them)", field: "ID")
            }
            for f in found {
                print(raw ? f.original.jsonString : f.example.jsonString)
                if history { for a in f.annotations { print(jsonLine(a.jsonObject)) } }
            }
        }
    }
}

/// `metadata.train_id=train_123` → ("metadata.train_id", "train_123").
func parseBy(_ text: String) throws -> (String, String) {
    guard let eq = text.firstIndex(of: "=") else {
        throw StrataError(.usage, "--by '\(text)' must be PATH=VALUE, e.g. metadata.train_id=train_123", field: "--by")
    }
    return (String(text[..<eq]), String(text[text.index(after: eq)...]))
}
