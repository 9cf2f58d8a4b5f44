import Foundation
@testable import Strata

/// A fresh temporary directory path (not created) removed at process exit is not guaranteed; tests use unique names.
func temporaryStorePath(_ name: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.path + "/strata-tests"
    try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    let clean = name.filter { $0.isLetter || $0.isNumber }
    let p = base + "/\(clean)-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.removeItem(atPath: p)
    return p
}

/// Deterministic synthetic examples of all three shapes.
func makeExamples(_ n: Int, seed: Int = 0, domains: [String] = ["alpha", "beta"], months: Int = 3) -> [Example] {
    (0..<n).map { i in
        let k = i + seed * 1_000_003
        let domain = domains[k % domains.count]
        let ts = Int64(1_735_689_600_000) + Int64(k % months) * 31 * 86_400_000 + Int64(k)
        let content: Content
        switch k % 3 {
        case 0: content = .instruction(instruction: "Summarize note \(k)", input: k % 2 == 0 ? "" : "input \(k) é", output: "Summary \(k) " + String(repeating: "word ", count: k % 50))
        case 1: content = .promptResponse(prompt: "Question \(k)?", response: "Answer \(k) 日本")
        default: content = .chat([Message(role: .system, content: "Be brief."), Message(role: .user, content: "hi \(k)"), Message(role: .assistant, content: "hello \(k)")])
        }
        return Example(content: content, domain: domain, timestampMillis: ts, qualityScore: k % 4 == 0 ? nil : Double(k % 100) / 100,
                       tags: k % 5 == 0 ? [] : ["t\(k % 3)", "x"], source: k % 2 == 0 ? "pipe" : nil,
                       metadataJSON: #"{"n":\#(k),"big":12345678901234567890,"f":1.5e300}"#)
    }
}

/// `bytes` compressed by a real command-line tool (`gzip` or `zstd`, from
/// /usr/bin), so decoders are tested against what users' tools write.
func compressedWithCLI(_ bytes: [UInt8], tool: String) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
    p.arguments = ["-c", "-q"]
    let inp = Pipe(), out = Pipe()
    p.standardInput = inp
    p.standardOutput = out
    try p.run()
    let group = DispatchGroup()
    feed(Data(bytes), to: inp, group: group)
    let data = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return Array(data)
}
