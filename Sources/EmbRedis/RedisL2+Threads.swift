// The threads of RedisL2: readers (jobs on their own connections), the writer (write-behind queue)
// and the health checker (reconnect with exponential backoff).
import Foundation

/// The reader threads' queue. Jobs are closures given the thread's connection, or MGET lookups,
/// which a reader takes all at once and answers with ONE merged MGET: under load, hundreds of
/// concurrent L1 misses cost a few round trips instead of hundreds.
final class JobQueue: @unchecked Sendable {
    typealias Job = (any CommandPath) -> Void
    struct Lookup {
        let keys: [[UInt8]]
        let done: ([RedisReply]?) -> Void
    }
    private let condition = NSCondition()
    private var jobs: [Job] = []  // guarded by condition
    private var lookups: [Lookup] = []  // guarded by condition
    private var closed = false
    /// Keys merged into one MGET at most.
    static let maxMergedKeys = 1024

    /// False when the queue is closed (the job is not run).
    func push(_ job: @escaping Job) -> Bool {
        self.enqueue { self.jobs.append(job) }
    }

    /// Queues an MGET of `keys`; `done` gets one reply per key (nil: unavailable). False when closed.
    func pushLookup(_ keys: [[UInt8]], _ done: @escaping ([RedisReply]?) -> Void) -> Bool {
        self.enqueue { self.lookups.append(Lookup(keys: keys, done: done)) }
    }

    private func enqueue(_ add: () -> Void) -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard !self.closed else { return false }
        add()
        self.condition.signal()
        return true
    }

    /// The next work: a job, or a set of lookups to merge. Nil once closed and empty.
    func pop() -> (job: Job?, lookups: [Lookup])? {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.jobs.isEmpty && self.lookups.isEmpty && !self.closed { self.condition.wait() }
        if !self.jobs.isEmpty { return (self.jobs.removeFirst(), []) }
        guard !self.lookups.isEmpty else { return nil }
        var taken = 0
        var count = 0
        while taken < self.lookups.count && (taken == 0 || count + self.lookups[taken].keys.count <= Self.maxMergedKeys) {
            count += self.lookups[taken].keys.count
            taken += 1
        }
        let batch = Array(self.lookups.prefix(taken))
        self.lookups.removeFirst(taken)
        return (nil, batch)
    }

    func close() {
        self.condition.lock()
        self.closed = true
        self.condition.broadcast()
        self.condition.unlock()
    }
}

extension RedisL2 {
    /// A ready connection (AUTH and SELECT done), or nil. A refused AUTH or SELECT is logged once
    /// per kind of failure: it is a configuration error the operator must see, not a transient one.
    func connect(to node: RedisNodeAddress) -> RedisConnection? {
        let c = self.configuration
        let result = RedisConnection.connect(host: node.host, port: node.port, db: c.db, credentials: c.credentials, connectTimeout: c.connectTimeout,
                                             commandTimeout: c.commandTimeout)
        let code: RedisConnectError.Code?
        switch result {
        case .success: code = nil
        case .failure(let e): code = e.code
        }
        let changed = self.state.withLock { s -> Bool in
            defer { s.lastConnectError = code }
            return s.lastConnectError != code
        }
        if changed, case .failure(let e) = result, e.code != .unreachable {
            self.logger.error("redis refused the connection setup", metadata: ["redis.node": "\(node)", "redis.error": "\(e)"])
        }
        return try? result.get()
    }

    /// Runs a pipeline; on failure marks Redis down (the health thread takes over).
    func execute(_ commands: [[[UInt8]]], on connection: RedisConnection) -> [RedisReply]? {
        if let replies = connection.pipeline(commands) { return replies }
        self.markDown()
        return nil
    }

    func markDown() {
        let wasUp = self.state.withLock { s -> Bool in
            let was = s.up
            s.up = false
            s.stats.errors += 1
            if was {
                s.backoff = self.configuration.initialBackoff
                s.nextAttempt = Self.now() + s.backoff
            }
            return was
        }
        if wasUp {
            self.logger.warning("redis unavailable; serving without L2", metadata: ["redis.port": "\(self.configuration.port)"])
            self.wakeHealthChecker()
        }
    }

    /// The next attempt to reach Redis, after twice the last wait (bounded).
    func backOff() {
        self.state.withLock { s in
            s.backoff = min(max(s.backoff * 2, self.configuration.initialBackoff), self.configuration.maxBackoff)
            s.nextAttempt = Self.now() + s.backoff
        }
    }

    func wakeHealthChecker() {
        self.healthSignal.lock()
        self.healthSignal.broadcast()
        self.healthSignal.unlock()
    }

    /// This thread's way to Redis: one connection, or one per cluster master.
    func makePath() -> any CommandPath {
        if let slots = self.slotRouter { return ClusterPath(self, router: slots) }
        return SinglePath(self)
    }

    func readerLoop() {
        let path = self.makePath()
        while let work = self.jobs.pop() {
            if let job = work.job {
                job(path)
            } else {
                self.mergedLookup(work.lookups, on: path)
            }
        }
    }

    /// One MGET for several callers' keys; each gets its slice of the reply. In a cluster, one GET
    /// per key, pipelined: one round trip per owner (MGET across slots is refused with CROSSSLOT).
    func mergedLookup(_ lookups: [JobQueue.Lookup], on path: any CommandPath) {
        let keys = lookups.flatMap(\.keys)
        var values: [RedisReply]? = nil
        if self.slotRouter != nil {
            values = path.execute(keys.map { [Array("GET".utf8), $0] })
        } else if let replies = path.execute([[Array("MGET".utf8)] + keys]), case .array(let all) = replies[0], all.count == keys.count {
            values = all
        }
        var offset = 0
        for lookup in lookups {
            lookup.done(values.map { Array($0[offset..<offset + lookup.keys.count]) })
            offset += lookup.keys.count
        }
    }

    func writerLoop() {
        let path = self.makePath()
        while true {
            self.writeSignal.lock()
            while self.state.withLock({ ($0.writes.isEmpty || !$0.up) && !$0.stopping }) {
                // Woken by a write, by Redis coming back (healthLoop) and by stop.
                _ = self.writeSignal.wait(until: Date().addingTimeInterval(1))
            }
            self.writeSignal.unlock()
            let (batch, up, stopping) = self.state.withLock { s -> ([(key: [UInt8], value: [UInt8], ttl: Int)], Bool, Bool) in
                guard s.up else { return ([], false, s.stopping) }
                let n = min(256, s.writes.count)
                let batch = Array(s.writes.prefix(n))
                s.writes.removeFirst(n)
                return (batch, true, s.stopping)
            }
            if stopping && batch.isEmpty { return }
            guard up, !batch.isEmpty else { continue }
            let commands = batch.map { [Array("SET".utf8), $0.key, $0.value, Array("EX".utf8), Array("\($0.ttl)".utf8)] }
            let replies = path.execute(commands)
            // A write refused (a cluster node down or failing over, OOM) is dropped like one made while down.
            let done = replies?.filter { if case .error = $0 { return false } else { return true } }.count ?? 0
            self.state.withLock {
                $0.stats.writesDone += done
                $0.stats.writesDropped += batch.count - done
            }
        }
    }

    func healthLoop() {
        while !self.state.withLock({ $0.stopping }) {
            let due = self.state.withLock { !$0.up && Self.now() >= $0.nextAttempt }
            if let slots = self.slotRouter {
                self.refreshSlotMap(slots, down: due)
            } else if due {
                var alive = false
                if let probe = self.connect(to: self.configuration.node), case .status("PONG") = probe.command([Array("PING".utf8)]) { alive = true }
                if alive {
                    self.state.withLock { s in
                        s.up = true
                        s.stats.reconnects += 1
                    }
                    self.logger.info("redis available", metadata: ["redis.port": "\(self.configuration.port)"])
                    self.wakeWriter()
                } else {
                    self.backOff()
                }
            }
            // While Redis is up there is nothing to do until a request marks it down (markDown wakes
            // this; `up` is read under the signal's lock, so the wake-up cannot be missed). Waking
            // 100 times a second regardless cost the event loop its tail latency on 2 vCPUs.
            self.healthSignal.lock()
            if self.state.withLock({ $0.up && !$0.stopping }) && self.slotRouter?.refreshPending != true {
                _ = self.healthSignal.wait(until: Date().addingTimeInterval(1))
            }
            self.healthSignal.unlock()
            if self.state.withLock({ !$0.up }) || self.slotRouter?.refreshPending == true { usleep(10_000) }
        }
    }
}
