import ArgumentParser
import Foundation
import Strata

/// Exit codes a scheduler can act on (documented in README and `strata --help`).
enum ExitStatus: Int32 {
    case done = 0
    /// `verify`: no damage, but state the next writer open repairs (leftovers of a killed run).
    case recoverable = 3
    case usage = 64
    case dataError = 65
    case ioFailure = 74
    case locked = 75

    static func of(_ e: StrataError) -> ExitStatus {
        switch e.code {
        case .locked: .locked
        case .usage, .notFound: .usage
        case .corruption, .invalidInput, .unsupportedVersion: .dataError
        default: .ioFailure
        }
    }
}

/// Runs a command body, turning errors into a readable message and an exit code
/// (never a stack trace).
func runCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as StrataError {
        FileHandle.standardError.write(Data("strata: error: \(e)\n".utf8))
        throw ExitCode(ExitStatus.of(e).rawValue)
    } catch let e as ExitCode {
        throw e
    } catch {
        FileHandle.standardError.write(Data("strata: error: \(error)\n".utf8))
        throw ExitCode(ExitStatus.ioFailure.rawValue)
    }
}

/// Writes to stdout through a buffer (print() is slow for large outputs).
final class OutputWriter {
    private var buffer: [UInt8] = []
    private let fd: Int32

    init(fd: Int32 = 1) { self.fd = fd }

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { flush() }
    }

    /// Writes a large piece of output (a chunk of JSON lines) without copying
    /// it when nothing is buffered ahead of it.
    func write(raw: UnsafeRawBufferPointer) {
        guard buffer.isEmpty else {
            buffer.append(contentsOf: raw)
            if buffer.count >= 1 << 20 { flush() }
            return
        }
        writeAll(raw)
    }

    func flush() {
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) {
        var done = 0
        while done < raw.count {
            let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { if errno == EINTR { continue }; break }
            done += n
        }
    }

    deinit { flush() }
}

/// One JSON object as a single line, keys sorted for stable output.
func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    var bytes = [UInt8](data)
    JSONWriter.makeLineSafe(&bytes)  // paths and messages may hold U+2028/U+2029
    return String(decoding: bytes, as: UTF8.self)
}

func printError(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Progress on a terminal (rate and ETA), plain lines otherwise, nothing with --quiet/--json.
final class Progress {
    enum Mode { case terminal, lines, silent }
    let mode: Mode
    let label: String
    let total: Int64?
    private var last = Date.distantPast
    private let start = Date()

    init(label: String, total: Int64?, quiet: Bool) {
        self.label = label
        self.total = total
        if quiet { mode = .silent } else if isatty(2) != 0 { mode = .terminal } else { mode = .lines }
    }

    func update(done: Int64, unit: String = "B", extra: String = "") {
        guard mode != .silent else { return }
        let now = Date()
        let interval = mode == .terminal ? 0.2 : 5.0
        guard now.timeIntervalSince(last) >= interval else { return }
        last = now
        emit(done: done, unit: unit, extra: extra, final: false)
    }

    func finish(done: Int64, unit: String = "B", extra: String = "") {
        guard mode != .silent else { return }
        emit(done: done, unit: unit, extra: extra, final: true)
    }

    private func emit(done: Int64, unit: String, extra: String, final: Bool) {
        let elapsed = max(Date().timeIntervalSince(start), 1e-6)
        let rate = Double(done) / elapsed
        var text = "\(label): \(formatAmount(Double(done), unit))"
        if let total, total > 0 {
            let pct = min(100, Double(done) * 100 / Double(total))
            text += String(format: " / %@ (%.0f%%)", formatAmount(Double(total), unit), pct)
            if !final && rate > 0 { text += String(format: ", ETA %.0fs", Double(total - done) / rate) }
        }
        text += ", \(formatAmount(rate, unit))/s"
        if !extra.isEmpty { text += ", " + extra }
        if mode == .terminal {
            FileHandle.standardError.write(Data(("\r\u{1b}[K" + text + (final ? "\n" : "")).utf8))
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}

func formatAmount(_ v: Double, _ unit: String) -> String {
    if unit == "B" {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var x = v
        var i = 0
        while x >= 1000 && i < units.count - 1 { x /= 1000; i += 1 }
        return i == 0 ? "\(Int(x)) B" : String(format: "%.1f %@", x, units[i])
    }
    return v >= 1000 ? String(format: "%.0f %@", v, unit) : String(format: "%.1f %@", v, unit)
}

