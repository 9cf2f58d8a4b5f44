/// Filling a row straight into the column writers, without building
/// `ParquetValue`s (no `String` or array per value): for exporters that hold
/// their values as byte slices (the row-format blocks of a columnar-block Parquet export).
///
/// Contract: between `beginRow()` and `endRow()` the caller puts every
/// top-level field exactly once (any order), with a value of the field's
/// type; a nil value only in a nullable field. The levels and values the
/// column writers receive are exactly what `append(_:)` shreds from the
/// equivalent `ParquetValue` row, so both produce the same bytes. A schema
/// misuse is a programming error (precondition), not a data error: the
/// schema is fixed by the caller's code.
extension ParquetWriter {
    public func beginRow() throws {
        if let failed { throw failed }
        guard !closed else { throw StrataError(.usage, "Parquet writer is closed") }
    }

    /// Ends the row begun with `beginRow()` (the row-group policy of `append`).
    public func endRow() throws {
        for c in columns { try c.endRow() }
        rowCount += 1
        rowGroupRows += 1
        if rowGroupRows >= options.rowGroupMaxRows || estimatedRowGroupBytes >= options.rowGroupMaxBytes {
            try flushRowGroup()
        }
    }

    @inline(__always) private func leaf(_ field: Int, nullable value: Bool) -> (ParquetNode, ParquetColumnWriter) {
        let node = nodes[field]
        guard case .leaf(let i) = node.kind else { preconditionFailure("Parquet field \(node.name) is not a leaf") }
        precondition(value || node.nullable, "null in required Parquet field \(node.name)")
        return (node, columns[i])
    }

    /// A string, JSON or binary field; nil = null.
    public func put(_ field: Int, bytes: UnsafeRawBufferPointer?) {
        let (_, c) = leaf(field, nullable: bytes != nil)
        if let bytes { c.appendBytes(bytes, rep: 0) } else { c.appendNull(def: 0, rep: 0) }
    }

    /// An int64 / int32 / timestamp field (or a double field given an integer, as `append` converts).
    public func put(_ field: Int, int: Int64?) {
        let (_, c) = leaf(field, nullable: int != nil)
        guard let int else { return c.appendNull(def: 0, rep: 0) }
        if c.leaf.physical == .double { c.appendDouble(Double(int), rep: 0) } else { c.appendInt(int, rep: 0) }
    }

    public func put(_ field: Int, double: Double?) {
        let (_, c) = leaf(field, nullable: double != nil)
        if let double { c.appendDouble(double, rep: 0) } else { c.appendNull(def: 0, rep: 0) }
    }

    public func put(_ field: Int, bool: Bool?) {
        let (_, c) = leaf(field, nullable: bool != nil)
        if let bool { c.appendBool(bool, rep: 0) } else { c.appendNull(def: 0, rep: 0) }
    }

    /// A list of required strings (`list<string>`); nil = null list.
    public func put(_ field: Int, list items: [UnsafeRawBufferPointer]?) {
        let node = nodes[field]
        guard case .list(let element, let repLevel) = node.kind, case .leaf(let i) = element.kind, !element.nullable else {
            preconditionFailure("Parquet field \(node.name) is not a list of required leaves")
        }
        precondition(items != nil || node.nullable, "null in required Parquet field \(node.name)")
        let c = columns[i]
        guard let items else { return c.appendNull(def: 0, rep: 0) }
        let def = node.nullable ? 1 : 0
        if items.isEmpty { return c.appendNull(def: def, rep: 0) }
        for (k, b) in items.enumerated() { c.appendBytes(b, rep: k == 0 ? 0 : repLevel) }
    }

    /// A list of records of required string fields (`list<record<string...>>`),
    /// `count` records; `value(k, j)` is field `j` of record `k`. Nil count = null list.
    public func put(_ field: Int, records count: Int?, _ value: (Int, Int) -> UnsafeRawBufferPointer) {
        let node = nodes[field]
        guard case .list(let element, let repLevel) = node.kind, case .record(let children) = element.kind, !element.nullable,
              children.allSatisfy({ if case .leaf = $0.kind { return !$0.nullable } else { return false } }) else {
            preconditionFailure("Parquet field \(node.name) is not a list of records of required leaves")
        }
        precondition(count != nil || node.nullable, "null in required Parquet field \(node.name)")
        guard let count else {
            for i in node.leafRange { columns[i].appendNull(def: 0, rep: 0) }
            return
        }
        let def = node.nullable ? 1 : 0
        if count == 0 {
            for i in node.leafRange { columns[i].appendNull(def: def, rep: 0) }
            return
        }
        for k in 0..<count {
            let rep = k == 0 ? 0 : repLevel
            for (j, child) in children.enumerated() {
                guard case .leaf(let i) = child.kind else { continue }
                columns[i].appendBytes(value(k, j), rep: rep)
            }
        }
    }
}

/// Filling rows a column at a time: for exporters that hold a batch of rows
/// as columns already (the columnar-block Parquet export). Each column writer
/// keeps its own page policy per row (`endRow`), and `appendColumns` cuts the
/// batch where `append` would have closed the row group, so the bytes are
/// those of appending the same rows one by one.
extension ParquetWriter {
    /// The column writer of a top-level leaf field.
    func leafColumn(_ field: Int) -> ParquetColumnWriter {
        let node = nodes[field]
        guard case .leaf(let i) = node.kind else { preconditionFailure("Parquet field \(node.name) is not a leaf") }
        return columns[i]
    }

    /// The leaf column writers of a `list<string>` or `list<record<string...>>`
    /// field, with the definition level of an empty list and the repetition
    /// level of a list's later items (what `put(_:list:)` / `put(_:records:)` write).
    func listColumns(_ field: Int) -> (columns: [ParquetColumnWriter], emptyDef: Int, repLevel: Int) {
        let node = nodes[field]
        guard case .list(let element, let repLevel) = node.kind, !element.nullable else {
            preconditionFailure("Parquet field \(node.name) is not a list of required values")
        }
        return (element.leafRange.map { columns[$0] }, node.nullable ? 1 : 0, repLevel)
    }

    /// Appends `rows` rows given column by column. `rowBytes(k)` is row k's
    /// estimated size: the sum over leaf columns of what it adds to their
    /// `estimatedBytes` (one per level, plus 4 + length per string, the
    /// width of each number). `fill(range)` must then put rows `range` into
    /// every leaf column, ending each row with the column's `endRow()`. The
    /// row group is closed after the same row as `endRow()`'s policy would.
    func appendColumns(rows: Int, rowBytes: (Int) -> Int, _ fill: (Range<Int>) throws -> Void) throws {
        try beginRow()
        var start = 0
        var bytes = estimatedRowGroupBytes
        var groupRows = rowGroupRows
        for k in 0..<rows {
            bytes += rowBytes(k)
            groupRows += 1
            guard groupRows >= options.rowGroupMaxRows || bytes >= options.rowGroupMaxBytes || k == rows - 1 else { continue }
            try fill(start..<(k + 1))
            assert(estimatedRowGroupBytes == bytes, "rowBytes disagrees with the column writers' estimate")
            rowCount += k + 1 - start
            rowGroupRows = groupRows
            start = k + 1
            if groupRows >= options.rowGroupMaxRows || bytes >= options.rowGroupMaxBytes {
                try flushRowGroup()
                bytes = 0
                groupRows = 0
            }
        }
    }
}
