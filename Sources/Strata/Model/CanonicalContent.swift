/// The canonical content of an example and its id (SPEC.md §4.1).
///
///     canonical := shape:u8 body
///     body (instruction)     := str(instruction) str(input) str(output)
///     body (prompt_response) := str(prompt) str(response)
///     body (chat)            := count:u32le { role:u8 str(content) }*
///     str(x)                 := byteLength:u32le utf8Bytes
///     id := XXH3-128(canonical, seed 0)
public enum CanonicalContent {
    public static func append(of content: Content, to w: inout ByteWriter) {
        w.u8(content.shape.rawValue)
        func str(_ s: String) {
            var s = s
            s.withUTF8 { w.u32(UInt32($0.count)); w.append($0) }
        }
        switch content {
        case let .instruction(i, input, o): str(i); str(input); str(o)
        case let .promptResponse(p, r): str(p); str(r)
        case let .chat(ms):
            w.u32(UInt32(ms.count))
            for m in ms { w.u8(m.role.rawValue); str(m.content) }
        }
    }

    public static func id(of content: Content) -> ExampleID {
        var w = ByteWriter(capacity: 256)
        append(of: content, to: &w)
        return XXH.hash128(w.bytes)
    }

    /// The id of an example whose entry carries an id key (SPEC.md §4.1, keyed
    /// ids of `content+fields` stores): XXH3-128(canonical ‖ idKey as 16
    /// big-endian bytes). With `idKey == nil` it is the plain content id.
    public static func id(of content: Content, idKey: ExampleID?) -> ExampleID {
        guard let idKey else { return id(of: content) }
        var w = ByteWriter(capacity: 256)
        append(of: content, to: &w)
        idKey.write(to: &w)
        return XXH.hash128(w.bytes)
    }

    /// Keyed id of a draft (see `id(of:idKey:)`); `scratch` is reused.
    public static func id(of d: ExampleDraft, idKey: ExampleID, scratch: inout ByteWriter) -> ExampleID {
        scratch.bytes.removeAll(keepingCapacity: true)
        append(of: d, to: &scratch)
        idKey.write(to: &scratch)
        return XXH.hash128(scratch.bytes)
    }

    /// Canonical bytes of a draft's content, appended to `w`.
    public static func append(of d: ExampleDraft, to w: inout ByteWriter) {
        w.u8(d.shape.rawValue)
        func str(_ span: ExampleDraft.Span) {
            w.u32(UInt32(span.count))
            w.append(d.storage[span.start..<(span.start + span.count)])
        }
        switch d.shape {
        case .instruction: str(d.first); str(d.second); str(d.third)
        case .promptResponse: str(d.first); str(d.second)
        case .chat:
            w.u32(UInt32(d.messages.count))
            for m in d.messages { w.u8(m.role.rawValue); str(m.content) }
        }
    }

    /// id of a draft; `scratch` is reused to avoid allocation.
    public static func id(of d: ExampleDraft, scratch: inout ByteWriter) -> ExampleID {
        scratch.bytes.removeAll(keepingCapacity: true)
        append(of: d, to: &scratch)
        return XXH.hash128(scratch.bytes)
    }
}
