// Cluster routing as the node sees it: who owns a key, and how to ask them. EmbServer implements it
// over the consistent-hash ring and peer connections; a standalone node has none.
import EmbHash
import EmbLRU

/// Where keys live and how to reach their owners.
public protocol PeerRouter: Sendable {
    /// The id of the up node that owns `key`, or nil when that is this node.
    func remoteOwner(of key: CacheKey) -> String?
    /// The vectors of `texts` from `peer`, which serves them as their owner and never forwards again,
    /// each with whether the owner had to compute it (true too when the owner did not say).
    func fetch(_ texts: [[UInt8]], from peer: String) async throws -> [(vector: [UInt8], computed: Bool)]
    /// A forward to `peer` failed: mark it down so the ring skips it until it answers again.
    func reportFailure(_ peer: String)
    /// The tier that would serve `text` on `peer` ("l1", "l2" or "miss"), changing nothing.
    func locate(_ text: [UInt8], at peer: String) async throws -> String
    /// Removes `texts` on `peer`; the number it removed.
    func invalidate(_ texts: [[UInt8]], at peer: String) async throws -> Int
}

/// The owner does not serve this node's model (another checkpoint under the same name): its texts are
/// routed again, and the router, which has learned it, keeps them here. Not a failure of the peer.
public struct PeerModelMismatch: Error, Sendable {
    public let peer: String
    public init(peer: String) { self.peer = peer }
}

/// One owner's answer to a routed batch, as a task group's result: a struct, not a tuple (a task
/// group of a 4-tuple result crashed in the runtime's tuple copy, in release builds).
struct PeerFetch: Sendable {
    let peer: String
    let indices: [Int]
    /// Nil when the forward failed.
    let vectors: [(vector: [UInt8], computed: Bool)]?
    /// The owner serves another checkpoint (not a failure of the peer).
    let mismatch: Bool

    init(peer: String, indices: [Int], texts: [[UInt8]], router: any PeerRouter) async {
        (self.peer, self.indices) = (peer, indices)
        do {
            (self.vectors, self.mismatch) = (try await router.fetch(texts, from: peer), false)
        } catch {
            (self.vectors, self.mismatch) = (nil, error is PeerModelMismatch)
        }
    }
}

extension EmbeddingNode {
    /// Splits the texts by owner: local keys take the local path; the others are answered by the hot
    /// cache or fetched from their owners, concurrently, one request per owner. A failed owner is
    /// reported down and its texts are routed again (to the next node clockwise, or here).
    func routed(_ texts: [[UInt8]], keys: [CacheKey], ids: [[Int32]?], router: any PeerRouter) async throws -> [Answer] {
        var results = [Answer?](repeating: nil, count: texts.count)
        var pending = Array(texts.indices)
        for _ in 0..<3 {  // at most two re-routes after failures, then everything is served here
            var local: [Int] = []
            var remote: [String: [Int]] = [:]
            let now = self.clock()
            for i in pending {
                guard let owner = router.remoteOwner(of: keys[i]) else {
                    local.append(i)
                    continue
                }
                if self.configuration.hotCacheMaxBytes > 0, case .hit(let v, _) = self.hotCache.lookup(Self.lruKey(keys[i]), now: now, { Array($0) }) {
                    results[i] = Answer(vector: v, tier: .hot)
                } else {
                    remote[owner, default: []].append(i)
                }
            }
            if !local.isEmpty {
                let answers = try await self.lookupLocal(local.map { texts[$0] }, keys: local.map { keys[$0] }, ids: local.map { ids[$0] })
                for (i, a) in zip(local, answers) { results[i] = a }
            }
            pending = []
            let fetched = await withTaskGroup(of: PeerFetch.self) { group in
                for (peer, indices) in remote {
                    let batch = indices.map { texts[$0] }
                    group.addTask { await PeerFetch(peer: peer, indices: indices, texts: batch, router: router) }
                }
                var all: [PeerFetch] = []
                for await r in group { all.append(r) }
                return all
            }
            for f in fetched {
                let (peer, indices, vectors) = (f.peer, f.indices, f.vectors)
                guard let vectors, vectors.count == indices.count else {
                    if !f.mismatch { router.reportFailure(peer) }
                    pending += indices
                    continue
                }
                for (i, (v, computed)) in zip(indices, vectors) {
                    results[i] = Answer(vector: v, tier: .forwarded, ownerComputed: computed)
                    if self.configuration.hotCacheMaxBytes > 0 { v.withUnsafeBytes {
                        self.hotCache.insert(Self.lruKey(keys[i]), value: $0, now: self.clock(), ttl: self.configuration.hotCacheTTL, delta: 0)
                    } }
                }
            }
            if pending.isEmpty { break }
        }
        if !pending.isEmpty {  // owners kept failing: serve here rather than fail the request
            let answers = try await self.lookupLocal(pending.map { texts[$0] }, keys: pending.map { keys[$0] }, ids: pending.map { ids[$0] })
            for (i, a) in zip(pending, answers) { results[i] = a }
        }
        return results.map { $0! }
    }
}
