import Foundation

/// Options that may be given more than once (their values accumulate).
/// Any other `--option` given twice is a usage error (exit 64), never
/// silently the last one (ArgumentParser keeps the last value of a
/// single-valued option).
let repeatableOptions: Set<String> = ["map", "hash-field", "domain", "tag", "shape", "export", "where", "check", "rule", "external-id"]

/// The first non-repeatable `--option` that occurs twice in `arguments`
/// (stopping at a bare `--`), or nil.
func repeatedOption(in arguments: [String]) -> String? {
    var seen = Set<String>()
    for a in arguments {
        if a == "--" { break }
        guard a.hasPrefix("--"), a.count > 2 else { continue }
        let name = String(a.dropFirst(2).prefix { $0 != "=" })
        if repeatableOptions.contains(name) { continue }
        if !seen.insert(name).inserted { return name }
    }
    return nil
}
