// The one slot router of a node in cluster mode, shared by both of its ways to Redis: the hiredis
// threads (write-behind, merged lookups, INVALIDATE, health) and the event-loop links of the hit
// path. Each takes a snapshot of the map per batch, groups keys by owner, and reports back what it
// saw: a MOVED updates the map at once (and asks for a full refresh), an ASK is counted, a node that
// fails is rested for a moment (its keys are misses meanwhile, never a stall) and asks for a refresh.
// Only RedisL2's health thread fetches maps (CLUSTER SLOTS); nothing here does I/O.
import Foundation

/// Counters of the router, for INFO and /metrics.
public struct SlotRouterStats: Sendable {
    /// Seconds since the last full map was installed (nil: none yet).
    public var mapAge: Double?
    public var refreshes = 0
    public var refreshFailures = 0
    public var moved = 0
    public var ask = 0
    /// Slots with an owner in the current map.
    public var coveredSlots = 0
    /// Per master of the current map (and any node that failed): slots served and errors seen.
    public var shards: [(node: RedisNodeAddress, slots: Int, errors: Int)] = []
}

/// The slot map and what routing through it has seen. Thread-safe.
public final class SlotRouter: Sendable {
    /// The addresses the cluster file gave (asked for a map when no known node answers).
    public let seeds: [RedisNodeAddress]
    /// How long a node that failed is skipped (its keys are misses), and how often a map is fetched
    /// at most while refreshes are asked for.
    public let restInterval: Double
    /// A map older than this is refreshed even when nothing asked (resharding done by others shows
    /// up as MOVED anyway; this keeps INFO's age meaningful and replicas known).
    public let maxMapAge: Double
    private let state = PThreadLocked(State())
    private let clock: @Sendable () -> Double

    private struct State {
        var map = SlotMap()
        var installedAt: Double?
        var refreshWanted = true
        var lastAttempt = -Double.infinity
        var stats = SlotRouterStats()
        var errors: [RedisNodeAddress: Int] = [:]
        var restingUntil: [RedisNodeAddress: Double] = [:]
        var wake: (@Sendable () -> Void)?
    }

    public init(seeds: [RedisNodeAddress], restInterval: Double = 0.1, maxMapAge: Double = 60,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        (self.seeds, self.restInterval, self.maxMapAge, self.clock) = (seeds, restInterval, maxMapAge, clock)
    }

    /// Called (outside the lock) when a refresh is asked for: RedisL2 wakes its health thread.
    func onRefreshWanted(_ wake: @escaping @Sendable () -> Void) {
        self.state.withLock { $0.wake = wake }
    }

    /// The current map (a snapshot: look slots up in it without the lock).
    public var map: SlotMap { self.state.withLock { $0.map } }

    /// Whether keys of `node` may be sent to it now (false while it rests after a failure).
    public func isAvailable(_ node: RedisNodeAddress) -> Bool {
        let now = self.clock()
        return self.state.withLock { ($0.restingUntil[node] ?? 0) <= now }
    }

    /// Installs a freshly read map.
    public func install(_ map: SlotMap) {
        let now = self.clock()
        self.state.withLock {
            $0.map = map
            $0.installedAt = now
            $0.refreshWanted = false
            $0.stats.refreshes += 1
        }
    }

    /// A map could not be read from any node; the next attempt waits `restInterval`.
    public func refreshFailed() {
        self.state.withLock { $0.stats.refreshFailures += 1 }
    }

    /// A MOVED or ASK reply. MOVED gives the slot to its new owner now and asks for a full map
    /// (a resharding or failover moves more than one slot); ASK leaves the map alone.
    public func note(_ redirect: ClusterRedirect) {
        let wake = self.state.withLock { s -> (@Sendable () -> Void)? in
            switch redirect.kind {
            case .ask:
                s.stats.ask += 1
                return nil
            case .moved:
                s.stats.moved += 1
                s.map.assign(slot: redirect.slot, to: redirect.node)
                return Self.wantRefresh(&s)
            }
        }
        wake?()
    }

    /// `node` failed (unreachable, timed out, closed): counted against its shard, rested, and a new
    /// map asked for (a failover may have promoted its replica).
    public func noteFailure(_ node: RedisNodeAddress) {
        let until = self.clock() + self.restInterval
        let wake = self.state.withLock { s -> (@Sendable () -> Void)? in
            s.errors[node, default: 0] += 1
            s.restingUntil[node] = until
            return Self.wantRefresh(&s)
        }
        wake?()
    }

    private static func wantRefresh(_ s: inout State) -> (@Sendable () -> Void)? {
        guard !s.refreshWanted else { return nil }
        s.refreshWanted = true
        return s.wake
    }

    /// Whether the health thread should fetch a map now: one is wanted (or the map is old), and the
    /// last attempt was at least `restInterval` ago. Marks the attempt.
    func takeRefreshDue() -> Bool {
        let now = self.clock()
        return self.state.withLock { s in
            let old = s.installedAt.map { now - $0 > self.maxMapAge } ?? true
            guard s.refreshWanted || old, now - s.lastAttempt >= self.restInterval else { return false }
            s.lastAttempt = now
            return true
        }
    }

    /// Whether a refresh is wanted (the health thread keeps polling until one succeeds).
    var refreshPending: Bool { self.state.withLock { $0.refreshWanted } }

    /// Where to ask for a map: the known masters, then their replicas, then the seeds.
    var refreshCandidates: [RedisNodeAddress] {
        let known = self.state.withLock { $0.map.masters + $0.map.nodes }
        var seen = Set<RedisNodeAddress>()
        return (known + self.seeds).filter { seen.insert($0).inserted }
    }

    public var stats: SlotRouterStats {
        let now = self.clock()
        return self.state.withLock { s in
            var stats = s.stats
            stats.mapAge = s.installedAt.map { max(0, now - $0) }
            stats.coveredSlots = s.map.coveredSlots
            let masters = s.map.masters
            let counts = s.map.slotsPerMaster
            stats.shards = masters.indices.map { (masters[$0], counts[$0], s.errors[masters[$0]] ?? 0) }
            for (node, errors) in s.errors.sorted(by: { $0.key < $1.key }) where !masters.contains(node) {
                stats.shards.append((node, 0, errors))
            }
            return stats
        }
    }
}
