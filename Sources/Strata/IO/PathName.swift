/// Path-name arithmetic on plain strings that never traps, for any input:
/// empty, one character, relative, trailing slashes, `.`, `..`, unicode, very
/// long. (Foundation's `NSString.deletingLastPathComponent` trapped on a
/// one-character relative path on Linux, crashing `strata ingest q …`.)
/// Pure: no file-system access; POSIX semantics, `/` is the only separator.
public enum PathName {
    /// The directory holding `path`'s last component: `"a/b"` → `"a"`,
    /// `"a/b/"` → `"a"`, `"/a"` → `"/"`, `"/"` → `"/"`, `"q"` → `"."`,
    /// `""` → `"."`. Never empty.
    public static func parent(of path: String) -> String {
        var u = Array(path.utf8)
        while u.count > 1, u.last == 0x2F { u.removeLast() }
        if u == [0x2F] { return "/" }
        guard let slash = u.lastIndex(of: 0x2F) else { return "." }
        var head = Array(u[..<slash])
        while head.count > 1, head.last == 0x2F { head.removeLast() }
        if head.isEmpty { return "/" }
        return String(decoding: head, as: UTF8.self)
    }

    /// The last component: `"a/b/"` → `"b"`, `"/"` → `"/"`, `""` → `""`.
    public static func lastComponent(of path: String) -> String {
        var u = Array(path.utf8)
        while u.count > 1, u.last == 0x2F { u.removeLast() }
        if u == [0x2F] { return "/" }
        guard let slash = u.lastIndex(of: 0x2F) else { return String(decoding: u, as: UTF8.self) }
        return String(decoding: u[(slash + 1)...], as: UTF8.self)
    }
}
