import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Issue: `.interval(seconds:)` committed only on the next append, so a writer
/// that went idle and then exited left its last examples uncommitted, and
/// stdin ingest had no time-based commit (a reader saw 0 records for 6 s).
/// Now: a timer commits an idle writer, `close()` and normal process exit
/// commit, ingest commits slow input on time, and a failed close in `deinit`
/// is written to stderr.
@Suite(.serialized) struct CommitPolicyTests {
    private static func prompt(_ i: Int) -> Example {
        Example(content: .promptResponse(prompt: "p\(i)", response: "r"), domain: "d", timestampMillis: Int64(i))
    }

    /// Polls a fresh reader (a separate snapshot each time) until it sees `n` examples.
    private static func readerSees(_ path: String, _ n: Int, within seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if let r = try? StoreReader(path: path) {
                let c = (try? r.count) ?? 0  // unreadable for now: poll again
                r.close()
                if c >= n { return true }
            }
            usleep(20_000)
        }
        return false
    }

    @Test func intervalPolicyCommitsWhileTheWriterIdles() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.commitPolicy = .interval(seconds: 0.2)
        let s = try Store.open(at: path, options: o)
        for i in 0..<50 { try s.append(Self.prompt(i)) }
        // No further call on the store: only the timer can commit the tail.
        #expect(Self.readerSees(path, 50, within: 5), "a reader never saw all 50 examples of an idle writer")
        try s.close()
    }

    /// The child half runs in a separate process (this test binary, filtered to
    /// this test, with STRATA_EXIT_CHILD_STORE set): it appends and exits
    /// normally without `close()`.
    @Test func intervalPolicyCommitsAtNormalProcessExit() throws {
        if let childStore = ProcessInfo.processInfo.environment["STRATA_EXIT_CHILD_STORE"] {
            var o = StoreOptions()
            o.commitPolicy = .interval(seconds: 3600)
            let s = try Store.open(at: childStore, options: o)
            for i in 0..<50 { try s.append(Self.prompt(i)) }
            exit(0)  // normal exit: atexit handlers run, `s` is never released
        }
        let path = temporaryStorePath()
        let r = try runTestChild(test: "intervalPolicyCommitsAtNormalProcessExit", env: ["STRATA_EXIT_CHILD_STORE": path])
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try StoreReader(path: path)
        #expect(try reader.count == 50)
        reader.close()
    }

    @Test func failedCloseInDeinitIsReportedOnStderr() throws {
        if ProcessInfo.processInfo.environment["STRATA_DEINIT_CHILD"] != nil {
            let fs = SimulatedFileSystem()
            var o = StoreOptions()
            o.fileSystem = fs
            o.commitPolicy = .manual
            o.checkPermissions = false
            var s: Store? = try Store.open(at: fs.root + "/store", options: o)
            try s!.append(Self.prompt(1))
            fs.faults = [SimulatedFileSystem.Fault(kind: .sync, nth: fs.count(of: .sync) + 1, failure: .io, sticky: true)]
            s = nil  // deinit closes; the close fails
            _ = s
            exit(0)
        }
        let r = try runTestChild(test: "failedCloseInDeinitIsReportedOnStderr", env: ["STRATA_DEINIT_CHILD": "1"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("closing store") && r.stderr.contains("failed"), "\(r.stderr)")
    }

    @Test func stdinIngestCommitsOnTimeWhileInputIsIdle() throws {
        let path = temporaryStorePath()
        let input = Pipe()
        let p = try CrashProcess(["ingest", path, "--quiet", "--commit-every-seconds", "0.3"], stdin: input)
        var text = ""
        for i in 0..<5 { text += #"{"prompt":"p\#(i)","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"# + "\n" }
        input.fileHandleForWriting.write(Data(text.utf8))
        // The pipe stays open: the writer is idle, not finished.
        let seen = Self.readerSees(path, 5, within: 5)
        try input.fileHandleForWriting.close()
        p.wait()
        #expect(seen, "a reader did not see records written to a still-open stdin")
        #expect(p.status == 0)
    }
}

/// Runs this test binary filtered to one test, with extra environment.
func runTestChild(test: String, env: [String: String]) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: packageRoot + "/.build/debug/StrataPackageTests.xctest")
    p.arguments = ["--testing-library", "swift-testing", "--filter", test]
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let errFile = temporaryStorePath("childerr")
    FileManager.default.createFile(atPath: errFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errFile) }
    p.standardError = FileHandle(forWritingAtPath: errFile)
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: FileManager.default.contents(atPath: errFile) ?? Data(), as: UTF8.self))
}
