import ArgumentParser
import Foundation
import Strata

/// `strata annotate STORE --from FILE.jsonl`: many events, one process, one commit.
extension AnnotateCommand {
    static let eventKeys: Set<String> = ["id", "by", "feedback", "rating", "comment", "correction", "exclude", "include", "reason"]

    func runBulk(_ file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw StrataError(.io, "cannot read annotation events", path: file)
        }
        let reader = try StoreReader.open(at: store)
        defer { reader.close() }
        let rejectsOut = try rejects.map { try LineFile(path: $0) }
        defer { rejectsOut?.close() }
        var rejected = 0, read = 0
        func reject(_ line: Int, _ field: String?, _ reason: String, _ text: Substring) {
            rejected += 1
            if rejected <= 20 && !json { printError("strata: rejected: \(file), line \(line)\(field.map { ", field '\($0)'" } ?? ""): \(reason)") }
            var o: [String: Any] = ["file": file, "line": line, "reason": reason, "text": String(text)]
            if let field { o["field"] = field }
            rejectsOut?.write(jsonLine(o))
        }
        // Resolve every line first (read-only), then write them all in one commit.
        var events: [(line: Int, ids: [ExampleID], annotation: Annotation, text: Substring)] = []
        let text = String(decoding: data, as: UTF8.self)
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineText = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if lineText.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            read += 1
            let line = n + 1
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(lineText.utf8))) as? [String: Any] else {
                reject(line, nil, "not a JSON object", lineText); continue
            }
            if let unknown = obj.keys.sorted().first(where: { !Self.eventKeys.contains($0) }) {
                reject(line, unknown, "unknown key (known: \(Self.eventKeys.sorted().joined(separator: ", ")))", lineText); continue
            }
            do {
                let line8 = String(lineText)
                func value(_ path: String...) -> JSONScalar { JSONPathLookup.value(in: line8, at: path) }
                func str(_ k: String) throws -> String? {
                    switch value(k) {
                    case .missing, .null: return nil
                    case .string(let b): return String(decoding: b, as: UTF8.self)
                    default: throw StrataError(.invalidInput, "must be a string", field: k)
                    }
                }
                func flag(_ k: String) throws -> Bool {
                    switch value(k) {
                    case .missing, .null: return false
                    case .bool(let b): return b
                    default: throw StrataError(.invalidInput, "must be true or false", field: k)
                    }
                }
                var rating: Int64?
                switch value("rating") {
                case .missing, .null: break
                case .number(let d) where d == d.rounded() && abs(d) < 9e15: rating = Int64(d)
                default: throw StrataError(.invalidInput, "must be an integer", field: "rating")
                }
                let annotation: Annotation
                do {
                    annotation = try Self.annotation(feedback: try str("feedback"), rating: rating, comment: try str("comment"),
                                                     correction: try str("correction"), exclude: try flag("exclude"), include: try flag("include"),
                                                     reason: try str("reason"), flag: "")
                } catch var e as StrataError {
                    e.code = .invalidInput
                    throw e
                }
                var ids: [ExampleID]
                switch (obj["id"], obj["by"]) {
                case let (idv?, nil):
                    guard let s = idv as? String, let id = ExampleID(hex: s) else { throw StrataError(.invalidInput, "must be an example id (32 hex digits)", field: "id") }
                    ids = [id]
                case let (nil, byv?):
                    guard let by = byv as? [String: Any], by.count == 1, let (path, v) = by.first else {
                        throw StrataError(.invalidInput, "must be one {\"PATH\": VALUE} pair, e.g. {\"metadata.train_id\": \"train_123\"}", field: "by")
                    }
                    let value: String
                    switch JSONPathLookup.value(in: line8, at: ["by", path]) {
                    case .string(let b): value = String(decoding: b, as: UTF8.self)
                    case .number(let d): value = d == d.rounded() && abs(d) < 9e15 ? String(Int64(d)) : "\(d)"
                    default: throw StrataError(.invalidInput, "value must be a string or a number", field: "by.\(path)")
                    }
                    _ = v
                    do { ids = try reader.lookup(externalId: path, value: value).map(\.original.id) } catch var e as StrataError where e.code == .usage {
                        e.code = .invalidInput
                        throw e
                    }
                    guard !ids.isEmpty else { throw StrataError(.invalidInput, "no example with \(path) = '\(value)'", field: "by.\(path)") }
                default:
                    throw StrataError(.invalidInput, "name the target by \"id\" or by \"by\" (one of them)", field: "id")
                }
                events.append((line, ids, annotation, lineText))
            } catch let e as StrataError {
                reject(line, e.field, e.message, lineText)
            }
        }
        var options = StoreOptions()
        options.createIfMissing = false
        options.commitPolicy = .manual
        let s = try Store.open(at: store, options: options)
        var applied = 0
        do {
            for ev in events {
                do {
                    for id in ev.ids { try s.annotate(id, ev.annotation) }
                    applied += 1
                } catch let e as StrataError where e.code == .notFound || e.code == .invalidInput {
                    reject(ev.line, e.field, e.message, ev.text)
                }
            }
            try s.commit()
            try s.close()
        } catch {
            try? s.close()
            throw error
        }
        if json {
            print(jsonLine(["read": read, "applied": applied, "rejected": rejected, "commits": 1, "file": file]))
        } else {
            if rejected > 20 { printError("strata: ... \(rejected - 20) more rejections\(rejects == nil ? " (use --rejects FILE to keep them all)" : "")") }
            print("read \(read) events, applied \(applied), rejected \(rejected) (one commit)")
        }
        if rejected > 0 && applied == 0 { throw ExitCode(ExitStatus.dataError.rawValue) }
    }
}
