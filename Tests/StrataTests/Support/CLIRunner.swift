import Foundation
@testable import Strata

/// Runs the built `strata` binary (debug build next to the tests) as a real process.
struct CLIResult {
    var status: Int32
    /// `.exit` or `.uncaughtSignal` (then `status` is the signal).
    var reason: Process.TerminationReason = .exit
    var stdout: String
    var stderr: String

    /// Lines of stdout parsed as JSON objects.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    fatalError("package root not found above \(#filePath)")
}()

/// A binary built alongside the tests (`swift build --build-tests` builds every target).
private func builtBinary(_ name: String) -> String {
    let candidates = [packageRoot + "/.build/debug/" + name, packageRoot + "/.build/release/" + name]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}

/// The strata executable.
let strataBinary = builtBinary("strata")
/// The test-only runner of compaction, maintenance and ingest on a fault-injecting
/// file system (Sources/StrataFault): crash points without hooks in the product.
let faultBinary = builtBinary("StrataFault")

func fixturePath(_ name: String) -> String { packageRoot + "/Tests/StrataTests/Fixtures/" + name }

/// Writes `data` to `pipe` on another thread, then closes it. A child that
/// exits without reading all of its stdin must not stop the test process:
/// SIGPIPE is ignored, so the write fails with EPIPE instead, which is the
/// child's choice and not an error of the test.
func feed(_ data: Data, to pipe: Pipe, group: DispatchGroup) {
    _ = sigpipeIgnored
    group.enter()
    DispatchQueue.global().async {
        if !data.isEmpty { try? pipe.fileHandleForWriting.write(contentsOf: data) }
        try? pipe.fileHandleForWriting.close()
        group.leave()
    }
}

private let sigpipeIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

/// Runs `binary` (strata by default) to completion: the one CLI runner of the tests.
/// `environment` is added to this process's; `directory` is the working directory.
@discardableResult
func runStrata(_ args: [String], stdin: Data? = nil, environment: [String: String] = [:], directory: String? = nil,
               binary: String = strataBinary) throws -> CLIResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    // Read both pipes and write stdin concurrently so a full pipe never blocks either side.
    let errData = Locked(Data())
    let group = DispatchGroup()
    feed(stdin ?? Data(), to: input, group: group)
    group.enter()
    DispatchQueue.global().async {
        errData.store(err.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, reason: p.terminationReason,
                     stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData.load(), as: UTF8.self))
}

/// A real process a test runs while it watches it, and may kill (SIGKILL): the
/// one crash-process helper of the tests. Its stdout is read as JSON lines when
/// `readOutput`, written to `stdoutFile` when given, discarded otherwise;
/// stderr goes to `stderrFile` or is discarded.
// @unchecked: other threads only read `isRunning`/`pid` (Process is thread-safe there); the output buffer is used by the owning test alone.
final class CrashProcess: @unchecked Sendable {
    let process = Process()
    private var output: FileHandle?
    private var buffer = Data()
    /// JSON objects printed so far (read by `readLines` and `kill`).
    private(set) var lines: [[String: Any]] = []

    init(_ args: [String], binary: String = strataBinary, readOutput: Bool = false, stdin: Pipe? = nil,
         stdoutFile: String? = nil, stderrFile: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = args
        func file(_ path: String) throws -> FileHandle {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }
        if readOutput {
            let out = Pipe()
            process.standardOutput = out
            output = out.fileHandleForReading
        } else {
            process.standardOutput = try stdoutFile.map(file) ?? FileHandle.nullDevice
        }
        process.standardError = try stderrFile.map(file) ?? FileHandle.nullDevice
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    private func consume() {
        while let nl = buffer.firstIndex(of: 0x0A) {
            let line = buffer[buffer.startIndex..<nl]
            buffer = Data(buffer[(nl + 1)...])
            if let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any] { lines.append(obj) }
        }
    }

    /// Reads output until `done` (called after each new JSON line) returns true
    /// or the process closes its output (it ended).
    func readLines(until done: ([String: Any]) -> Bool) {
        guard let output else { return }
        while true {
            let chunk = output.availableData
            if chunk.isEmpty { return }
            buffer.append(chunk)
            let before = lines.count
            consume()
            for l in lines[before...] where done(l) { return }
        }
    }

    /// Sends SIGKILL after `micros` microseconds (if still running), waits for
    /// the process to end and reads the rest of its output. True when it was killed.
    @discardableResult
    func kill(afterMicroseconds micros: UInt32 = 0) -> Bool {
        if micros > 0 { usleep(micros) }
        Foundation.kill(process.processIdentifier, SIGKILL)
        return wait()
    }

    /// Waits for the end; true when a signal ended it.
    @discardableResult
    func wait() -> Bool {
        process.waitUntilExit()
        if let output {
            buffer.append(output.readDataToEndOfFile())
            consume()
        }
        return process.terminationReason == .uncaughtSignal
    }

    var status: Int32 { process.terminationStatus }
}
