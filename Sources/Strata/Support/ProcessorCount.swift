#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ProcessorCount {
    /// CPUs this process may run on, read once: on Linux the scheduler
    /// affinity mask (what taskset and cpusets allow), elsewhere or if that
    /// fails the online CPUs. Foundation's `activeProcessorCount` also reads
    /// the cgroup CPU quota files, which cost ~0.4M instructions and eight
    /// syscalls in every `strata scan` (callgrind). Callers use at most 2
    /// threads, so a quota below 2 CPUs only means two threads share it.
    static let available: Int = {
        #if os(Linux)
        // sched_getaffinity is not in Swift's Glibc module (it needs _GNU_SOURCE).
        typealias GetAffinity = @convention(c) (Int32, Int, UnsafeMutableRawPointer) -> Int32
        if let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity") {
            var mask = [UInt64](repeating: 0, count: 16)  // 1,024 CPUs, glibc's cpu_set_t
            let ok = mask.withUnsafeMutableBytes { unsafeBitCast(f, to: GetAffinity.self)(0, $0.count, $0.baseAddress!) } == 0
            let n = mask.reduce(0) { $0 + $1.nonzeroBitCount }
            if ok && n > 0 { return n }
        }
        #endif
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()
}
