import ArgumentParser
import Foundation
import Strata

/// `strata maintain`: the one command a scheduler runs.
struct MaintainCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.blockBuffers
    static let configuration = CommandConfiguration(
        commandName: "maintain",
        abstract: "Scheduled maintenance: verify, compact partition by partition, refresh the index, refresh exports.",
        discussion: """
        Meant for cron, Airflow or a Kubernetes CronJob. Steps: a quick verify (headers, \
        footers, manifest — block contents are not read, the summary says so; run \
        `strata verify` for every byte; nothing is changed if it finds damage), then with --compact each \
        partition is compacted in turn, active segments are sealed and the dedup index \
        snapshot is refreshed, then every --export spec is brought up to date. Each step \
        is atomic and idempotent: a run killed at any point (even SIGKILL) is resumed by \
        running the same command again, and a run with nothing to do changes nothing.

        Prints one JSON line on stdout (with --json; otherwise a short text summary).
        Exit codes: 0 done; 64 usage error (bad option or spec file); 65 corruption \
        found (run `strata verify` for details); 74 I/O failure; 75 store locked by \
        another writer (retry later).

        An export spec file is a JSON object with the `strata export` options in \
        snake_case and "out" (relative to the spec file):
          {"out": "exports/train", "schema": "alpaca", "min_quality": 0.7}

        Examples:
          strata maintain ./store --compact --json
          strata maintain ./store --compact --export train.json --json
          # CronJob: args: [maintain, /data/store, --compact, --json]
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Flag(help: "Compact every partition (skips partitions already compact).") var compact = false
    @Option(name: .customLong("export"), help: "Export spec file (JSON) to keep up to date (repeatable).") var exportSpecs: [String] = []
    @Option(help: "zstd level for compaction.") var level: Int32 = 3
    @Flag(help: "One JSON line on stdout.") var json = false
    @Flag(help: "No progress lines on stderr.") var quiet = false

    func run() throws {
        let started = Date()
        do {
            try runCommand {
                try requireStoreDirectory(store)
                let exports = try exportSpecs.map { try MaintenanceExport.load(specFile: $0) }
                let job = MaintenanceJob(storePath: store)
                job.compact = compact
                job.compaction.level = level
                job.exports = exports
                let showSteps = !quiet && !json
                job.onStep = { step in if showSteps { printError("maintain: \(step)") } }
                let s = try job.run()
                if json {
                    print(jsonLine([
                        "status": "done", "exit_code": 0, "store": store, "partitions": s.partitions.count, "compacted": s.compacted,
                        "compaction_skipped": compact ? s.partitions.count - s.compacted : 0,
                        "bytes_before": s.partitions.reduce(Int64(0)) { $0 + $1.bytesBefore },
                        "bytes_after": s.partitions.reduce(Int64(0)) { $0 + $1.bytesAfter },
                        "exports": s.exports.map { ["spec": $0.specPath, "out": $0.out, "up_to_date": $0.upToDate, "rewritten_files": $0.rewrittenFiles, "rows": $0.rows] },
                        "recovery": s.recovery, "verify_warnings": s.warnings,
                        "verify_checked": s.verifyChecked, "verify_not_checked": s.verifyNotChecked, "index_entries": s.indexEntries, "seconds": s.seconds,
                    ]))
                } else {
                    print("maintain \(store): \(s.partitions.count) partitions, \(s.compacted) compacted, "
                          + "\(s.exports.filter { !$0.upToDate }.count) of \(s.exports.count) exports refreshed, "
                          + "\(s.recovery.count) recovery steps, " + String(format: "%.2f s", s.seconds))
                    print("quick verify checked: \(s.verifyChecked); not checked: \(s.verifyNotChecked)")
                }
            }
        } catch let e as ExitCode {
            // Schedulers parse stdout: the failure is a JSON line too.
            if json {
                let status: String
                switch e.rawValue {
                case ExitStatus.usage.rawValue: status = "usage"
                case ExitStatus.locked.rawValue: status = "locked"
                case ExitStatus.dataError.rawValue: status = "corruption"
                default: status = "io_failure"
                }
                print(jsonLine(["status": status, "exit_code": Int(e.rawValue), "store": store, "seconds": Date().timeIntervalSince(started)]))
            }
            throw e
        }
    }
}
