import Foundation

extension RecordPredicate {
    /// The selection every front end offers (`--where`/`--from`/`--to` on the
    /// CLI; `where`/`from`/`to` in the C ABI and Python): predicates ANDed with a
    /// timestamp range, `from` inclusive and `to` exclusive, each a date
    /// (`2025-03-14`) or an instant (`2025-03-14T09:00:00Z`). nil when empty.
    /// `fromName`/`toName` are the option names errors report.
    public static func selection(predicates: [String], from: String?, to: String?,
                                 fromName: String = "from", toName: String = "to") throws -> RecordPredicate? {
        var all = try predicates.map { try RecordPredicate(parsing: $0) }
        func instant(_ text: String?, _ name: String) throws -> Int64? {
            guard let text else { return nil }
            do { return try IngestLineParser.parseTimestamp(text) } catch let e as StrataError {
                throw StrataError(.usage, "\(name) '\(text)': \(e.message)", field: name)
            }
        }
        let f = try instant(from, fromName), t = try instant(to, toName)
        if let f, let t, t <= f { throw StrataError(.usage, "\(toName) must be after \(fromName)", field: toName) }
        if f != nil || t != nil { all.append(RecordPredicate.timeRange(fromMillis: f, toMillis: t)) }
        return RecordPredicate.all(all)
    }
}
