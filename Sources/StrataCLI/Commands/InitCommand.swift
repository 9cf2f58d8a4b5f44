import ArgumentParser
import Foundation
import Strata

/// `strata init`: creates an empty store with its dedup key (SPEC.md §5.3).
struct InitCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create an empty store and fix its dedup key.",
        discussion: """
        The dedup key cannot change after creation. Keys: content (default); \
        content+FIELD[,FIELD] where FIELD is source, domain or metadata.PATH; prompt_only. \
        Normalization: none (default), whitespace (collapse and trim Unicode white space), \
        casefold (whitespace, then Unicode lowercase). Running init again with the same key \
        is a no-op; with another key it fails.
        Example: strata init ./store --dedup-key content+metadata.source_key --normalize whitespace
        """
    )

    @Argument(help: "Store directory (created).") var store: String
    @Option(name: .customLong("dedup-key"), help: "content | content+FIELD[,FIELD] | prompt_only") var dedupKey = "content"
    @Option(help: "none | whitespace | casefold") var normalize = "none"
    @Option(name: .customLong("external-id"), help: "Metadata field holding a pipeline's own id, looked up by `strata get --by` (repeatable), e.g. metadata.train_id.")
    var externalIds: [String] = []
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runCommand {
            var options = StoreOptions()
            options.dedupKey = try DedupKey(parsing: dedupKey, normalize: normalize)
            let s = try Store.open(at: store, options: options)
            let key = s.dedupKey
            let count = s.count
            try s.close()
            // Declaring an external id writes its index, built from what the store holds.
            if !externalIds.isEmpty {
                let reader = try StoreReader.open(at: store)
                defer { reader.close() }
                for p in externalIds { try reader.refreshExternalIdIndex(path: p) }
            }
            if json {
                print(jsonLine(["store": store, "dedup": ["key": key.kind.rawValue, "fields": key.fields, "normalize": key.normalize.rawValue], "records": count,
                                "external_ids": ExternalIdIndex.declared(store: store)]))
            } else {
                print("store \(store) ready; dedup key \(key); \(count) records")
                let ext = ExternalIdIndex.declared(store: store)
                if !ext.isEmpty { print("external ids: \(ext.joined(separator: ", "))") }
            }
        }
    }
}
