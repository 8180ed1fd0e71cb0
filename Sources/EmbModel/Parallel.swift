// How the encoder spreads one forward pass over the cores: every step (a GEMM's columns, the
// attention heads, rows of element-wise work) is split into `threads` parts that run at once, the
// calling thread taking part 0. A forward pass has ~40 such steps, so hand-off latency matters at
// batch 1: workers spin for a short while between steps (a step is tens of microseconds) and only
// then sleep on a condition variable. Dispatch's concurrentPerform would also do, but its closure
// must be @Sendable, and the steps pass raw pointers into the workspace.
import Foundation
import Synchronization

/// Persistent worker threads running parts of a step.
final class WorkerPool: @unchecked Sendable {
    /// Parts per step.
    let threads: Int
    private let generation = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let condition = NSCondition()
    /// The current step's body; written before `generation` is bumped (release), read after (acquire).
    private var job: ((Int) -> Void)?
    /// Spins before a worker sleeps: a few hundred microseconds, longer than the serial gaps between
    /// the steps of a pass, so a busy encoder never pays a wake-up.
    private static let spinLimit = 200_000

    init(threads: Int) {
        self.threads = max(1, threads)
        for part in 1..<self.threads {
            let thread = Thread { [unowned self] in self.work(part) }
            thread.name = "embcache-encoder-\(part)"
            thread.start()
        }
    }

    /// Calls `body(part)` for part in 0..<threads, concurrently; returns when all are done.
    /// Not reentrant: one step at a time (the encoder holds its lock).
    func run(_ body: (Int) -> Void) {
        guard self.threads > 1 else { return body(0) }
        withoutActuallyEscaping(body) { body in
            self.job = body
            self.finished.store(0, ordering: .relaxed)
            self.generation.add(1, ordering: .releasing)
            self.condition.lock()
            self.condition.broadcast()
            self.condition.unlock()
            body(0)
            var spins = 0
            while self.finished.load(ordering: .acquiring) < self.threads - 1 {
                spins += 1
                if spins > Self.spinLimit { sched_yield() }
            }
            self.job = nil
        }
    }

    private func work(_ part: Int) {
        var seen = 0
        while true {
            var spins = 0
            while self.generation.load(ordering: .acquiring) == seen && spins < Self.spinLimit { spins += 1 }
            if self.generation.load(ordering: .acquiring) == seen {
                self.condition.lock()
                while self.generation.load(ordering: .acquiring) == seen { self.condition.wait() }
                self.condition.unlock()
            }
            seen = self.generation.load(ordering: .acquiring)
            self.runJob(part)
            self.finished.add(1, ordering: .releasing)
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
