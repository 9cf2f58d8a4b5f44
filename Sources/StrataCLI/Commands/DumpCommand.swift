import ArgumentParser
import Foundation
import Strata

/// `strata dump`: the frames and entries of one segment file with their offsets.
struct DumpCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Show the frames and entries of a segment file with their file offsets.",
        discussion: """
        Each frame line gives its file offset and header fields (type, stored and raw \
        length, entry count, checksum state); each entry line gives the offset of its \
        block, its position inside the decompressed block, its kind, id and size. \
        Damage is shown where it is found and the dump stops there.

        Examples:
          strata dump ./store domain=a/month=2025-01/seg-0000000001.strata
          strata dump ./store domain=a/month=2025-01/seg-0000000001.strata --limit 10
          strata dump ./store domain=a/month=2025-01/seg-0000000001.strata --json
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Segment file, relative to the store or absolute.") var segment: String
    @Option(help: "Start at the frame at this file offset (from a previous dump).") var offset: Int64?
    @Option(help: "Stop after N entries.") var limit: Int?
    @Flag(help: "One JSON object per frame and per entry.") var json = false

    func run() throws {
        try runCommand {
            let path = segment.hasPrefix("/") || FileManager.default.fileExists(atPath: segment) && !FileManager.default.fileExists(atPath: store + "/" + segment)
                ? segment : store + "/" + segment
            guard FileManager.default.fileExists(atPath: path) else {
                throw StrataError(.notFound, "no such segment file; `strata inspect \(store) PARTITION` lists them", path: path)
            }
            let out = OutputWriter()
            var damaged = false
            try SegmentDumper.dump(path: path, start: offset, limit: limit, storeRoot: store) { item in
                switch item {
                case .header(let h):
                    out.write(json ? jsonLine(["what": "header", "offset": 0, "version": Int(h.version), "sequence": h.sequence, "dictionary": h.dictionaryID]) + "\n"
                              : "header   @0  version \(h.version) sequence \(h.sequence) dictionary \(h.dictionaryID)\n")
                case let .frame(off, h, ok):
                    let type = SegmentDumper.frameTypeName(h.type)
                    out.write(json ? jsonLine(["what": "frame", "offset": off, "type": type, "stored_length": h.storedLength, "raw_length": h.rawLength,
                                               "entry_count": h.entryCount, "frame_length": h.frameLength, "checksum": String(h.checksum, radix: 16), "checksum_ok": ok]) + "\n"
                              : "frame    @\(off)  \(type) stored \(h.storedLength) raw \(h.rawLength) entries \(h.entryCount) checksum \(String(h.checksum, radix: 16)) \(ok ? "ok" : "MISMATCH")\n")
                case let .entry(blockOffset, index, position, length, kind, id, example):
                    var o: [String: Any] = ["what": "entry", "block_offset": blockOffset, "index": index, "position": position, "length": length,
                                            "kind": SegmentDumper.kindName(kind), "id": id?.hex as Any? ?? NSNull()]
                    if let e = example {
                        o["shape"] = e.shape.name
                        o["timestamp"] = formatTimestampMillis(e.timestampMillis)
                        o["domain"] = e.domain
                    }
                    out.write(json ? jsonLine(o) + "\n"
                              : "  entry  @\(blockOffset)+\(position)  #\(index) \(SegmentDumper.kindName(kind)) \(id?.hex ?? "-") \(length) B"
                                + (example.map { " \($0.shape.name) \(formatTimestampMillis($0.timestampMillis))" } ?? "") + "\n")
                case let .footer(off, f):
                    out.write(json ? jsonLine(["what": "footer", "offset": off, "blocks": f.blocks.count, "examples": f.examples.count,
                                               "annotations": f.annotations.count, "raw_bytes": f.rawBytes]) + "\n"
                              : "footer   @\(off)  blocks \(f.blocks.count) examples \(f.examples.count) annotations \(f.annotations.count) raw \(f.rawBytes)\n")
                case let .trailer(off, t):
                    out.write(json ? jsonLine(["what": "trailer", "offset": off, "footer_offset": t.footerOffset, "examples": t.exampleCount,
                                               "annotations": t.annotationCount]) + "\n"
                              : "trailer  @\(off)  footer @\(t.footerOffset) examples \(t.exampleCount) annotations \(t.annotationCount)\n")
                case let .damage(off, message):
                    damaged = true
                    out.write(json ? jsonLine(["what": "damage", "offset": off, "message": message]) + "\n" : "DAMAGE   @\(off)  \(message)\n")
                }
            }
            out.flush()
            if damaged {
                printError("strata: \(path) is damaged (see DAMAGE above); `strata verify \(store)` lists every problem")
                throw ExitCode(ExitStatus.dataError.rawValue)
            }
        }
    }
}
