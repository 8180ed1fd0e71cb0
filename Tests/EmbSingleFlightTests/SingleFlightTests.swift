import EmbSingleFlight
import Synchronization
import Testing

@Suite struct SingleFlightTests {
    struct Boom: Error {}

    @Test func aThousandConcurrentCallersForOneKeyRunTheWorkOnce() async throws {
        let group = SingleFlight<String, Int>()
        let runs = Counter()
        let gate = AsyncGate()
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { tasks in
            for _ in 0..<1000 {
                tasks.addTask {
                    try await group.run("k") {
                        runs.increment()
                        await gate.wait()
                        return 42
                    }
                }
            }
            // Let every caller reach the flight before the work finishes.
            while group.inFlightCount == 0 { await Task.yield() }
            try await Task.sleep(for: .milliseconds(200))
            await gate.open()
            var all: [(Int, Bool)] = []
            for try await r in tasks { all.append(r) }
            return all
        }
        #expect(runs.value == 1)
        #expect(results.count == 1000 && results.allSatisfy { $0.0 == 42 })
        #expect(results.filter { !$0.1 }.count == 1, "exactly one caller ran the work")
        #expect(group.inFlightCount == 0)
    }

    @Test func differentKeysRunIndependentlyAndLaterCallsRunAgain() async throws {
        let group = SingleFlight<Int, Int>()
        let runs = Counter()
        for k in 0..<3 {
            let r = try await group.run(k) { runs.increment(); return k * 2 }
            #expect(r.value == k * 2 && !r.shared)
        }
        _ = try await group.run(0) { runs.increment(); return 0 }
        #expect(runs.value == 4)
    }

    @Test func anErrorReachesEveryWaiter() async {
        let group = SingleFlight<String, Int>()
        let gate = AsyncGate()
        await withTaskGroup(of: Bool.self) { tasks in
            for _ in 0..<10 {
                tasks.addTask {
                    do {
                        _ = try await group.run("k") { await gate.wait(); throw Boom() }
                        return false
                    } catch { return error is Boom }
                }
            }
            while group.inFlightCount == 0 { await Task.yield() }
            try? await Task.sleep(for: .milliseconds(50))
            await gate.open()
            for await failedWithBoom in tasks { #expect(failedWithBoom) }
        }
    }
}

/// A one-shot gate: `wait` suspends until `open`.
actor AsyncGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if self.isOpen { return }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    func open() {
        self.isOpen = true
        for w in self.waiters { w.resume() }
        self.waiters = []
    }
}

/// A counter closures can share.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { self.count.add(1, ordering: .relaxed) }
    var value: Int { self.count.load(ordering: .relaxed) }
}
