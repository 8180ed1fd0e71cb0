// The full lookup path for a request's texts: validate, key, L1, one L2 MGET, then single-flight
// computation through the batcher. Also invalidation and the XFetch background refresh.
import EmbHash
import EmbLRU
import EmbRedis
import Foundation

extension EmbeddingNode {
    /// The vectors (1536 bytes each, little-endian float32) of `texts`, in order, and the tiers that
    /// answered. Throws NodeError for invalid input or when the encoder queue is full.
    /// `l2Missed`: the caller has just asked this node's Redis for these (owned) keys and found
    /// nothing usable, so they are served here without asking again (L1, then computation).
    /// `account`: the caller the texts are charged to in the savings ledger (nil: not accounted).
    public func embed(_ texts: [[UInt8]], forwarded: Bool = false, l2Missed: Bool = false,
                      account: CallerAccount? = nil) async throws -> [(vector: [UInt8], tier: Tier)] {
        guard texts.count <= self.configuration.maxBatchTexts else {
            throw NodeError.tooManyTexts(count: texts.count, limit: self.configuration.maxBatchTexts)
        }
        var keys: [CacheKey] = []
        var ids: [[Int32]?] = []
        var tokens: [Int] = []
        for (i, text) in texts.enumerated() {
            guard text.count <= self.configuration.maxTextBytes else {
                throw NodeError.textTooLarge(index: i, bytes: text.count, limit: self.configuration.maxTextBytes)
            }
            let known = text.withUnsafeBytes { self.knownKeyAndTokens(textHash: Self.textHash($0)) }
            if let known {
                keys.append(known.key)
                ids.append(nil)
                tokens.append(known.tokens)
            } else {
                guard let k = text.withUnsafeBytes({ self.key(of: $0) }) else { throw NodeError.invalidUTF8(index: i) }
                keys.append(k.key)
                ids.append(k.ids)
                tokens.append(k.ids.count)
                text.withUnsafeBytes { self.remember($0, as: k.key, tokens: k.ids.count) }
            }
        }
        let start = self.clock()
        let answered: [Answer]
        if let router = self.router, !forwarded, !l2Missed {
            answered = try await self.routed(texts, keys: keys, ids: ids, router: router)
        } else {
            answered = try await self.lookupLocal(texts, keys: keys, ids: ids, askL2: !l2Missed)
        }
        for r in answered { self.tierCounts.add(r.tier, 1) }
        if let account {
            self.account(answered, keys: keys, tokens: tokens, to: account)
            if let audit = self.savings.audit {
                let now = self.clock()
                let micros = Int(((now - start) * 1e6).rounded())
                for (i, a) in answered.enumerated() {
                    audit.write(time: now, caller: account.name, key: keys[i], tier: a.tier, latencyMicros: micros, tokens: tokens[i])
                }
            }
        }
        return answered.map { ($0.vector, $0.tier) }
    }

    /// One text's answer inside the lookup path: with what the savings ledger needs besides the tier.
    struct Answer: Sendable {
        var vector: [UInt8]
        var tier: Tier
        /// Encoder seconds spent on it here (tier computed).
        var encoderSeconds = 0.0
        /// Forwarded, and its owner had to compute it (or could not say).
        var ownerComputed = false
    }

    /// The local path (this node owns the keys): L1, one L2 MGET, then single-flight computation.
    func lookupLocal(_ texts: [[UInt8]], keys: [CacheKey], ids: [[Int32]?], askL2: Bool = true) async throws -> [Answer] {
        let now = self.clock()
        var results = [Answer?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        for (i, key) in keys.enumerated() {
            guard self.l1Enabled else {
                missing.append(i)
                continue
            }
            switch self.l1.lookup(Self.lruKey(key), now: now, { Array($0) }) {
            case .hit(let v, let refresh):
                results[i] = Answer(vector: v, tier: .l1)
                if refresh { self.refresh(key, text: texts[i]) }
            case .miss:
                missing.append(i)
            }
        }
        if !missing.isEmpty, askL2, let l2 = self.l2 {
            // One round trip for all of this request's L1 misses (duplicates asked once).
            let unique = Array(Set(missing.map { keys[$0] }))
            if let records = await l2.mget(unique.map(\.hex)) {
                var found: [CacheKey: L2Record] = [:]
                for (key, record) in zip(unique, records) {
                    guard let record else { continue }
                    let remaining = record.createdAt + self.configuration.ttl - self.clock()
                    guard remaining > 0 else { continue }
                    found[key] = record
                    if self.l1Enabled { record.vector.withUnsafeBytes {
                        self.l1.insert(Self.lruKey(key), value: $0, now: self.clock(), ttl: remaining, delta: Double(record.delta))
                    } }
                }
                missing = missing.filter { i in
                    guard let r = found[keys[i]] else { return true }
                    results[i] = Answer(vector: r.vector, tier: .l2)
                    return false
                }
            }
        }
        if !missing.isEmpty {
            try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
                for i in missing {
                    let key = keys[i]
                    let tokenIDs = ids[i]
                    let text = texts[i]
                    group.addTask {
                        let (computed, shared) = try await self.compute(key, ids: tokenIDs, text: text)
                        // Joiners of a flight (and late joiners that found it in L1) spent nothing.
                        let tier: Tier = shared || computed.reused ? .coalesced : .computed
                        return (i, Answer(vector: computed.vector, tier: tier, encoderSeconds: tier == .computed ? computed.encoderSeconds : 0))
                    }
                }
                for try await (i, answer) in group { results[i] = answer }
            }
        }
        return results.map { $0! }
    }

    /// Computes `key` once among concurrent callers, then stores it in L1 and L2.
    func compute(_ key: CacheKey, ids: [Int32]?, text: [UInt8]) async throws -> (Computed, shared: Bool) {
        try await self.flights.run(key) {
            // A flight for this key may have ended between our L1 miss and now (its result is in
            // L1 by then): look again before computing, so a key is computed once, not twice.
            if self.l1Enabled, case .hit(let v, _) = self.l1.lookup(Self.lruKey(key), now: self.clock(), { Array($0) }) {
                return Computed(vector: v, delta: 0, reused: true, encoderSeconds: 0)
            }
            let start = self.clock()
            let tokenIDs = ids ?? text.withUnsafeBytes { self.key(of: $0)?.ids } ?? []
            let encoded = try await self.batcher.submitTimed(tokenIDs)
            let vector = encoded.vector.withUnsafeBytes { Array($0) }  // float32, little-endian on every platform we build for
            let delta = self.clock() - start
            let now = self.clock()
            if self.l1Enabled { vector.withUnsafeBytes { self.l1.insert(Self.lruKey(key), value: $0, now: now, ttl: self.configuration.ttl, delta: delta) } }
            self.l2?.enqueueSet(key.hex, L2Record(createdAt: now, delta: Float(delta), vector: vector), ttlSeconds: Int(self.configuration.ttl.rounded(.up)))
            return Computed(vector: vector, delta: delta, reused: false, encoderSeconds: encoded.seconds)
        }
    }

    /// XFetch's background refresh: recompute and re-store `key` while its current value is served.
    func refresh(_ key: CacheKey, text: [UInt8]) {
        Task {
            do {
                _ = try await self.compute(key, ids: nil, text: text)
            } catch {
                self.l1.cancelRefresh(Self.lruKey(key))
            }
        }
    }

    /// Removes the texts' entries on their owners (L1 and L2, and this node's hot cache); the number
    /// of texts that had an entry somewhere.
    public func invalidate(_ texts: [[UInt8]], forwarded: Bool = false) async throws -> Int {
        var removed = 0
        var remote: [String: [[UInt8]]] = [:]
        for (i, text) in texts.enumerated() {
            guard let k = text.withUnsafeBytes({ self.key(of: $0) }) else { throw NodeError.invalidUTF8(index: i) }
            self.hotCache.remove(Self.lruKey(k.key))
            if !forwarded, let owner = self.router?.remoteOwner(of: k.key) {
                remote[owner, default: []].append(text)
                continue
            }
            let inL1 = self.l1.remove(Self.lruKey(k.key))
            let inL2 = (await self.l2?.delete([k.key.hex]) ?? 0) > 0
            if inL1 || inL2 { removed += 1 }
        }
        for (peer, batch) in remote {
            removed += (try? await self.router!.invalidate(batch, at: peer)) ?? 0
        }
        return removed
    }

    /// Where `text` would be served from, changing nothing: (key, owner id or nil for this node, tier).
    public func locate(_ text: [UInt8], forwarded: Bool = false) async throws -> (key: CacheKey, owner: String?, tier: String) {
        guard let k = text.withUnsafeBytes({ self.key(of: $0) }) else { throw NodeError.invalidUTF8(index: 0) }
        if !forwarded, let router = self.router, let owner = router.remoteOwner(of: k.key) {
            return (k.key, owner, (try? await router.locate(text, at: owner)) ?? "miss")
        }
        if self.l1.contains(Self.lruKey(k.key), now: self.clock()) { return (k.key, nil, "l1") }
        if await self.l2?.exists(k.key.hex) == true { return (k.key, nil, "l2") }
        return (k.key, nil, "miss")
    }
}
