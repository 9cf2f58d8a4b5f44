import Dispatch

/// Runs `body(0..<iterations)` on Dispatch's worker threads and returns when all
/// are done (`DispatchQueue.concurrentPerform`), without requiring a `@Sendable`
/// body: the writer's block compression and the export's block encoding hand
/// each iteration its own slots of shared arrays, which the checker cannot see.
/// REQUIRES: iterations touch disjoint mutable state; shared state is only read
/// (each call site states which).
func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        // @unchecked: the caller's contract above (disjoint writes, shared reads) makes the captures race-free.
        struct UncheckedBody: @unchecked Sendable { let run: (Int) -> Void }
        let unchecked = UncheckedBody(run: body)
        DispatchQueue.concurrentPerform(iterations: iterations) { unchecked.run($0) }
    }
}
