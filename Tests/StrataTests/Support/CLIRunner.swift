import Foundation
@testable import Strata

/// Runs the built `strata` binary (debug build next to the tests) as a real process.
struct CLIResult {
    var status: Int32
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

/// The strata executable built alongside the tests (`swift build --build-tests` builds it).
let strataBinary: String = {
    let candidates = [packageRoot + "/.build/debug/strata", packageRoot + "/.build/release/strata"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}()

func fixturePath(_ name: String) -> String { packageRoot + "/Tests/StrataTests/Fixtures/" + name }

@discardableResult
func runStrata(_ args: [String], stdin: Data? = nil) throws -> CLIResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: strataBinary)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // Read both pipes concurrently so a full pipe never blocks the child.
    let errData = Locked(Data())
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData.store(err.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData.load(), as: UTF8.self))
}
