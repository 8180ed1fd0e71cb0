// The node's L2: Redis through hiredis, best effort. Reads are MGETs run by a small pool of threads
// that each own a blocking connection (hiredis is synchronous; these threads are ours, not Swift
// concurrency's cooperative pool, which must never block). Writes go through a bounded write-behind
// queue drained by one writer thread that pipelines SET … EX in batches.
//
// L2 must never fail or stall a request: when a command fails or times out, Redis is marked down and
// every call returns nil at once (a miss) until the health thread reconnects — with exponential
// backoff — and marks it up again. Writes made while it is down wait in the queue while there is
// room and are dropped (and counted) beyond it.
//
// In cluster mode (`clusterSeeds` set) the same threads route every command by its key's slot
// (ClusterPath, through the SlotRouter the event-loop links share): reads become pipelined GETs,
// one round trip per owner, since MGET across slots is refused (CROSSSLOT). "Up" then means a slot
// map is known; a failing master only costs misses on its own slots while a new map is fetched.
import Foundation
import Logging

/// Where Redis is and how patient to be with it.
public struct RedisL2Configuration: Sendable {
    public var host: String
    public var port: Int
    public var db: Int = 0
    /// Redis Cluster seed nodes; empty = a single Redis at host:port (cluster mode needs db 0).
    public var clusterSeeds: [RedisNodeAddress] = []
    /// AUTH [user] password on every connection; nil = none.
    public var credentials: RedisCredentials?
    /// Reader threads (each with its own connection).
    public var poolSize = 2
    public var connectTimeout = 0.2
    public var commandTimeout = 0.1
    /// Writes waiting at most; more are dropped.
    public var writeQueueLimit = 10_000
    public var initialBackoff = 0.05
    public var maxBackoff = 2.0
    /// Prepended to every key.
    public var keyPrefix = "emb:"
    /// Floats per vector (values of another size are misses).
    public var dimension = 384

    public init(host: String, port: Int, db: Int = 0) {
        self.host = host
        self.port = port
        self.db = db
    }

    /// The single Redis (or the first seed).
    public var node: RedisNodeAddress { RedisNodeAddress(host: self.host, port: self.port) }
}

/// Counters of the L2 client.
public struct RedisL2Stats: Sendable, Equatable {
    public var hits = 0
    public var misses = 0
    /// Values present but not decodable (treated as misses and overwritten).
    public var undecodable = 0
    /// Failed commands and calls answered nil because Redis was down.
    public var errors = 0
    public var reconnects = 0
    public var writesDone = 0
    public var writesDropped = 0
    public var queueDepth = 0
    public var isUp = false
}

/// The L2 client. See the file comment.
public final class RedisL2: Sendable {
    public let configuration: RedisL2Configuration
    let logger: Logger
    let state = PThreadLocked(State())
    let jobs = JobQueue()
    let writeSignal = NSCondition()
    /// Wakes the health checker when Redis is marked down, or on stop.
    let healthSignal = NSCondition()
    private let threadsExited = DispatchSemaphore(value: 0)
    private let threadCount: Int
    /// The slot map and redirect counters in cluster mode (shared with the event-loop links); nil
    /// for a single Redis.
    public let slotRouter: SlotRouter?

    struct State: Sendable {
        var up = false
        var backoff = 0.0
        var nextAttempt = 0.0
        var stopping = false
        var writes: [(key: [UInt8], value: [UInt8], ttl: Int)] = []
        var stats = RedisL2Stats()
        /// The last connect failure's kind, so a refused AUTH is logged once, not at every retry.
        var lastConnectError: RedisConnectError.Code?
        /// The last reason no slot map could be read (cluster mode), so it is logged once.
        var lastMapProblem: String?
    }

    /// Starts the reader, writer and health threads. Returns at once; `stats.isUp` tells when Redis answers.
    public init(_ configuration: RedisL2Configuration, logger: Logger = Logger(label: "embcache.redis")) {
        self.configuration = configuration
        self.logger = logger
        self.threadCount = configuration.poolSize + 2
        self.slotRouter = configuration.clusterSeeds.isEmpty ? nil : SlotRouter(seeds: configuration.clusterSeeds)
        self.slotRouter?.onRefreshWanted { [weak self] in self?.wakeHealthChecker() }
        for i in 0..<configuration.poolSize { self.spawn("embcache-redis-read-\(i)") { $0.readerLoop() } }
        self.spawn("embcache-redis-write") { $0.writerLoop() }
        self.spawn("embcache-redis-health") { $0.healthLoop() }
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable (RedisL2) -> Void) {
        let thread = Thread { [self] in
            body(self)
            self.threadsExited.signal()
        }
        thread.name = name
        thread.start()
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// The stored key of `name`.
    func key(_ name: String) -> [UInt8] { Array((self.configuration.keyPrefix + name).utf8) }

    /// The records of `keys` (nil per absent or undecodable key), or nil when Redis is unavailable.
    public func mget(_ keys: [String]) async -> [L2Record?]? {
        guard !keys.isEmpty else { return [] }
        guard let values = await self.lookup(keys.map(self.key)) else { return nil }
        var hits = 0
        var undecodable = 0
        var unanswered = 0
        let records = values.map { value -> L2Record? in
            if case .error = value { unanswered += 1 }  // a cluster node that was unreachable
            guard case .string(let bytes) = value else { return nil }
            let record = bytes.withUnsafeBytes { L2Record.decode($0, expectedDim: self.configuration.dimension) }
            if record == nil { undecodable += 1 } else { hits += 1 }
            return record
        }
        self.state.withLock {
            $0.stats.hits += hits
            $0.stats.misses += keys.count - hits - unanswered
            $0.stats.errors += unanswered
            $0.stats.undecodable += undecodable
        }
        return records
    }

    /// Whether `key` exists (nil when Redis is unavailable).
    public func exists(_ key: String) async -> Bool? {
        guard let reply = await self.run([[Array("EXISTS".utf8), self.key(key)]]), case .integer(let n) = reply[0] else { return nil }
        return n > 0
    }

    /// Deletes keys; the number removed, or nil when Redis is unavailable.
    public func delete(_ keys: [String]) async -> Int? {
        guard !keys.isEmpty else { return 0 }
        // A cluster refuses a DEL of keys in different slots: one DEL per key there.
        let commands = self.slotRouter == nil ? [[Array("DEL".utf8)] + keys.map(self.key)] : keys.map { [Array("DEL".utf8), self.key($0)] }
        guard let replies = await self.run(commands) else { return nil }
        var removed = 0
        for reply in replies {
            guard case .integer(let n) = reply else { return nil }
            removed += n
        }
        return removed
    }

    /// True when Redis answers PING now.
    public func ping() async -> Bool {
        guard let reply = await self.run([[Array("PING".utf8)]]), case .status("PONG") = reply[0] else { return false }
        return true
    }

    /// Any command, for tests and tools (nil when unavailable).
    public func raw(_ args: [String]) async -> RedisReply? {
        await self.run([args.map { Array($0.utf8) }])?.first
    }

    /// Queues `SET key record EX ttl` without waiting; drops it (counted) when the queue is full.
    public func enqueueSet(_ key: String, _ record: L2Record, ttlSeconds: Int) {
        let accepted = self.state.withLock { s -> Bool in
            guard !s.stopping, s.writes.count < self.configuration.writeQueueLimit else {
                s.stats.writesDropped += 1
                return false
            }
            s.writes.append((self.key(key), record.encode(), max(1, ttlSeconds)))
            return true
        }
        if accepted { self.wakeWriter() }
    }

    /// Whether Redis answered the last time it was asked (the health thread's view).
    public var isUp: Bool { self.state.withLock { $0.up && !$0.stopping } }


    /// Counts L2 hits and misses seen by another client (the event-loop path).
    public func count(hits: Int, misses: Int) {
        self.state.withLock {
            $0.stats.hits += hits
            $0.stats.misses += misses
        }
    }

    /// Counters, with the current queue depth and health.
    public var stats: RedisL2Stats {
        self.state.withLock { s in
            var stats = s.stats
            stats.queueDepth = s.writes.count
            stats.isUp = s.up
            return stats
        }
    }

    /// Stops taking writes, drains the queue (for at most `deadline` seconds), and stops the threads.
    public func shutdown(deadline: Double = 2) async {
        let until = Self.now() + deadline
        while Self.now() < until, self.state.withLock({ $0.up && !$0.writes.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        self.state.withLock { $0.stopping = true }
        self.jobs.close()
        self.wakeWriter()
        self.wakeHealthChecker()
        for _ in 0..<self.threadCount {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    self.threadsExited.wait()
                    c.resume()
                }
            }
        }
    }

    func wakeWriter() {
        self.writeSignal.lock()
        self.writeSignal.broadcast()
        self.writeSignal.unlock()
    }

    /// MGET through the merging reader queue; nil at once when Redis is down.
    func lookup(_ keys: [[UInt8]]) async -> [RedisReply]? {
        guard self.state.withLock({ s -> Bool in
            if !s.up { s.stats.errors += 1 }
            return s.up && !s.stopping
        }) else { return nil }
        return await Self.fromReader { done in self.jobs.pushLookup(keys, done) }
    }

    /// The replies a reader thread produces for the calling task. They cross threads through a
    /// `PThreadLocked` box rather than in `resume(returning:)`: the continuation's ordering lives in
    /// the concurrency runtime, which ThreadSanitizer does not see, and it reported every handover
    /// as a race (Docs/reliability.md). `start` queues the work; false (closed) answers nil.
    static func fromReader(_ start: (@escaping ([RedisReply]?) -> Void) -> Bool) async -> [RedisReply]? {
        let box = PThreadLocked<[RedisReply]?>(nil)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queued = start { replies in
                box.withLock { $0 = replies }
                continuation.resume()
            }
            if !queued { continuation.resume() }
        }
        return box.withLock { $0 }
    }

    /// Runs commands as one pipeline on a reader thread; nil at once when Redis is down.
    func run(_ commands: [[[UInt8]]]) async -> [RedisReply]? {
        guard self.state.withLock({ s -> Bool in
            if !s.up { s.stats.errors += 1 }
            return s.up && !s.stopping
        }) else { return nil }
        return await Self.fromReader { done in
            self.jobs.push { path in done(path.execute(commands)) }
        }
    }
}
