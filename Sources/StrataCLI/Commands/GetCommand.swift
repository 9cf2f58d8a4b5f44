import ArgumentParser
import Strata

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print one example as a JSON object.",
        discussion: "Example: strata get ./store 3f2a9c0d5e6b7a8190a1b2c3d4e5f601"
    )

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Example id: 32 hex digits.") var id: String
    @Flag(help: "The example as ingested, before corrections.") var raw = false
    @Flag(help: "Also print the example's annotations, one JSON object per line, oldest first.") var history = false

    func run() throws {
        try runCommand {
            guard let exampleID = ExampleID(hex: id) else {
                throw StrataError(.usage, "'\(id)' is not an example id (expected 32 hex digits)", field: "ID")
            }
            let reader = try StoreReader.open(at: store)
            defer { reader.close() }
            guard let f = try reader.getFolded(exampleID) else {
                throw StrataError(.notFound, "no example with id \(exampleID) in this store", path: store)
            }
            print(raw ? f.original.jsonString : f.example.jsonString)
            if history { for a in f.annotations { print(jsonLine(a.jsonObject)) } }
        }
    }
}
