/// Assigns the id an example gets in a store (SPEC.md §4.1).
///
/// In a store whose dedup key is `content` or `prompt_only`, equal ids imply
/// equal dedup keys, so the content hash is unique among stored examples. A
/// `content+fields` key also looks at fields outside the content: two
/// examples with the same content and different field values are both stored,
/// so their ids must differ. There the id is *keyed*: XXH3-128 of the
/// canonical content followed by the 16-byte dedup key, and the entry carries
/// that key (§4.2 flag bit 2) so any reader can verify the id without knowing
/// the store's configuration.
struct ExampleIdentity {
    let keyed: Bool
    private var keyer: DedupKeyer
    private var scratch = ByteWriter(capacity: 4 << 10)

    init(_ key: DedupKey) {
        keyed = key.kind == .contentPlusFields
        keyer = DedupKeyer(key)
    }

    /// The id and (for keyed ids) the id key of a validated draft. Throws
    /// `.invalidInput` when a key field cannot be keyed (SPEC.md §5.3).
    mutating func assign(_ d: ExampleDraft) throws -> (id: ExampleID, idKey: ExampleID?) {
        let plain = CanonicalContent.id(of: d, scratch: &scratch)
        guard keyed else { return (plain, nil) }
        let k = try keyer.key(of: d, id: plain)
        return (CanonicalContent.id(of: d, idKey: k, scratch: &scratch), k)
    }
}
