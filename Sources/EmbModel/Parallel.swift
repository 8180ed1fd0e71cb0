// How the encoder spreads one forward pass over the cores: every step (a GEMM's columns or rows, the
// attention heads, rows of element-wise work) is split into `threads` parts. The parts are not bound
// to threads: the caller and the workers claim them from one counter, so when a worker is not
// running (the machine is busy, or it is still waking) the caller does its part instead of waiting
// for it. With parts bound to threads, a step waited for a descheduled worker's next time slice:
// on a loaded 2-vCPU machine short texts at batch 1 fell from ~1000 to ~50 texts/s.
// A forward pass has 13 to 72 steps, so hand-off latency matters at batch 1: workers spin for a
// short while between steps and only then sleep on a condition variable. The spin is short (tens of
// microseconds, `pause` in the loop): on 2 vCPUs a spinning worker that shares a CPU with the caller
// delays the very step it waits for, and a sleeping worker costs little now that the caller does
// unclaimed parts itself. Dispatch's
// concurrentPerform would also do, but its closure must be @Sendable, and the steps pass raw
// pointers into the workspace.
import CEmbKernels
import Foundation
import Synchronization

/// Persistent worker threads running parts of a step. The workers hold the shared `Steps` state, not
/// the pool, and leave when the pool goes: an encoder released while a worker was still spinning
/// after its last step once made that worker read a freed pool.
final class WorkerPool: Sendable {
    /// Parts per step.
    let threads: Int
    private let steps: Steps

    init(threads: Int) {
        self.threads = max(1, threads)
        self.steps = Steps(threads: self.threads)
        for _ in 1..<self.threads {
            let thread = Thread { [steps] in steps.work() }
            thread.name = "embcache-encoder"
            thread.start()
        }
    }

    deinit {
        self.steps.stop()
    }

    /// Calls `body(part)` for part in 0..<threads, concurrently; returns when all are done.
    /// Not reentrant: one step at a time (the encoder holds its lock).
    func run(_ body: (Int) -> Void) {
        guard self.threads > 1 else { return body(0) }
        self.steps.run(body)
    }
}

/// The step hand-off shared by a pool's caller and its workers.
private final class Steps: @unchecked Sendable {
    let threads: Int
    private let generation = Atomic<Int>(0)
    /// Parts of the current step handed out (claims past `threads` find nothing left).
    private let claimed = Atomic<Int>(0)
    /// Parts of the current step done.
    private let finished = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let condition = NSCondition()
    /// The current step's body: written before `claimed` is reset (release), read by whoever wins a
    /// claim (acquire). A claim only succeeds between that reset and the step's end, so a worker
    /// never reads it stale or nil.
    private var job: ((Int) -> Void)?
    /// Spin iterations (each an x86 `pause`, ~40-140 cycles) before a worker sleeps or a waiting
    /// caller yields its CPU: ~30-100 µs, longer than the serial gaps between the steps of a pass.
    private static let spinLimit = 2_000

    init(threads: Int) {
        self.threads = threads
    }

    func run(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            self.job = body
            self.finished.store(0, ordering: .relaxed)
            self.claimed.store(0, ordering: .releasing)
            self.wake()
            self.claimParts()
            var spins = 0
            while self.finished.load(ordering: .acquiring) < self.threads {
                spins += 1
                if spins > Self.spinLimit { sched_yield() } else { embk_spin_pause() }
            }
            self.job = nil
        }
    }

    /// Ends the workers (they finish any part they hold first; the pool holds no step then).
    func stop() {
        self.stopped.store(true, ordering: .releasing)
        self.wake()
    }

    private func wake() {
        self.generation.add(1, ordering: .releasing)
        self.condition.lock()
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// Runs parts of the current step until none is left.
    private func claimParts() {
        while true {
            let part = self.claimed.add(1, ordering: .acquiringAndReleasing).oldValue
            guard part < self.threads else { return }
            self.runJob(part)
            self.finished.add(1, ordering: .releasing)
        }
    }

    func work() {
        var seen = 0
        while !self.stopped.load(ordering: .acquiring) {
            var spins = 0
            while self.generation.load(ordering: .acquiring) == seen && spins < Self.spinLimit {
                spins += 1
                embk_spin_pause()
            }
            if self.generation.load(ordering: .acquiring) == seen {
                self.condition.lock()
                while self.generation.load(ordering: .acquiring) == seen { self.condition.wait() }
                self.condition.unlock()
            }
            seen = self.generation.load(ordering: .acquiring)
            if self.stopped.load(ordering: .acquiring) { return }
            self.claimParts()
        }
    }

    @inline(never)
    private func runJob(_ part: Int) {
        self.job!(part)
    }
}

/// A step splitter over a WorkerPool.
struct ParallelRunner {
    let pool: WorkerPool
    /// Parts per step.
    var threads: Int { self.pool.threads }

    /// Calls `body(part)` for every part at once.
    func run(_ body: (Int) -> Void) {
        self.pool.run(body)
    }

    /// Splits 0..<count into contiguous ranges, one per part, and runs `body` on the non-empty ones.
    func forRanges(_ count: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(self.threads, count)
        if parts <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        self.pool.run { part in
            guard part < parts else { return }
            body(count * part / parts..<count * (part + 1) / parts)
        }
    }
}
