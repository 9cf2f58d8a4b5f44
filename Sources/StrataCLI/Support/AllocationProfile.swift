import ArgumentParser
import Foundation

/// How a command allocates: glibc's malloc is tuned for it before it runs
/// (`apply`). Every subcommand states its profile (`StrataSubcommand`), so a
/// new bulk command cannot silently run with the wrong one.
enum AllocationProfile {
    /// Few large buffers at a time, or few allocations: glibc's fixed 128 KiB
    /// mmap threshold. Ingest is here on purpose: with 4 MiB (or glibc's
    /// dynamic threshold) its peak RSS at 5M examples rose from 386.7 to
    /// 444.1 (437.2) MB.
    case standard
    /// Buffers above 128 KiB allocated per block and per partition
    /// (compaction, export, maintenance): served from the heap with a 4 MiB
    /// mmap threshold. c200 then takes 19k fewer page faults to compact and
    /// 18k fewer to export as Parquet, for 1.6 and 6.6 MB more peak RSS.
    case blockBuffers

    func apply() {
        // Keep freed heap memory instead of returning it to the kernel after every
        // large free (glibc's default trims above 128 KiB): ingest and export churn
        // through ~100 KiB block buffers on several threads, and each trim made the
        // next allocation fault in fresh zeroed pages (~6% of ingest CPU in `perf`).
        // Only the release of memory below the peak is deferred.
        Self.setMallocOption(-1, 256 << 20)  // M_TRIM_THRESHOLD
        // Setting it also fixes glibc's mmap threshold at 128 KiB, so every larger
        // buffer is mapped, faulted in and unmapped each time.
        // glibc's arena limit stays: the store's helper threads are long-lived
        // (IOThreadPool.swift), so they no longer hand arenas round. 5M-example
        // ingest peak RSS with two arenas per core 343,524 KiB, without 343,312.
        if self == .blockBuffers {
            Self.setMallocOption(-3, 4 << 20)  // M_MMAP_THRESHOLD
        }
    }

    /// glibc's mallopt (not in Swift's Glibc module); a no-op where it is absent.
    private static func setMallocOption(_ option: Int32, _ value: Int32) {
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(f, to: (@convention(c) (Int32, Int32) -> Int32).self)(option, value)
    }
}

/// A `strata` subcommand. Its allocation profile is a requirement, not a
/// default, so each command file says which it is.
protocol StrataSubcommand: ParsableCommand {
    static var allocationProfile: AllocationProfile { get }
}

extension StrataCommand {
    /// The profile of the subcommand `name` names; `.standard` for anything
    /// else (help, version, a mistyped name: ArgumentParser reports those).
    static func allocationProfile(forSubcommand name: String?) -> AllocationProfile {
        guard let name, let command = allSubcommands.first(where: { $0.configuration.commandName == name }) else {
            return .standard
        }
        return command.allocationProfile
    }
}
