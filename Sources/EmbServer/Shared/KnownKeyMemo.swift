// A connection's memo of text hash → cache key (and token count), in front of the node's shared alias table.
//
// A text's cache key never changes (it is a function of the model and the text), so an entry can
// never be stale and needs no invalidation; a collision of slots just overwrites. What it saves is
// the alias table's shard lock on every repeated text: a RAG service's connection asks for the same
// texts again and again, and at -P 16 that lock was a sixth of the hit path (Docs/benchmarks.md).
// It belongs to one connection, so one event-loop thread: no lock, no atomics. The token count rides
// along in the slot's padding, so the savings ledger learns a hit's tokens for free.
import EmbHash
import EmbNode

/// A text seen before: its cache key and how many tokens the model reads for it.
package struct KnownText: Sendable {
    package let key: CacheKey
    package let tokens: Int

    package init(key: CacheKey, tokens: Int) { (self.key, self.tokens) = (key, tokens) }
}

final class KnownKeyMemo {
    private struct Slot {
        var textHash = Hash128(high: 0, low: 0)
        var key = Hash128(high: 0, low: 0)
        var tokens: Int32 = 0
        /// The minute the overlap sample last heard of this key from this connection (if sampled).
        var notedMinute: UInt32 = 0
        var used = false
        var sampled = false
    }

    /// 64 slots × 48 bytes: 3 KB per connection, allocated at the first text remembered (so a
    /// connection that never sends EMBED, e.g. one of 10k idle ones, costs none: Scripts/bench-memory).
    static let slotCount = 64
    private var slots: UnsafeMutablePointer<Slot>?

    init() {}

    deinit {
        guard let slots = self.slots else { return }
        slots.deinitialize(count: Self.slotCount)
        slots.deallocate()
    }

    @inline(__always)
    private func index(_ textHash: Hash128) -> Int { Int(truncatingIfNeeded: textHash.low) & (Self.slotCount - 1) }

    /// The remembered key of the text with this hash, if any; `renote`: the key is in the overlap
    /// sample and was last noted for this connection before `minute` (now it counts as noted).
    @inline(__always)
    func known(_ textHash: Hash128, minute: UInt32) -> (known: KnownText, renote: Bool)? {
        guard let slots = self.slots else { return nil }
        let i = self.index(textHash)
        let slot = slots[i]
        guard slot.used, slot.textHash == textHash else { return nil }
        let renote = slot.sampled && slot.notedMinute != minute
        if renote { slots[i].notedMinute = minute }
        return (KnownText(key: CacheKey(slot.key), tokens: Int(slot.tokens)), renote)
    }

    /// The key of `text` in `lane` (the lane this memo is kept for): remembered, else the lane's
    /// alias table, then remembered. A key the overlap sample wants is appended to `notes` when it is
    /// learned and after that at most once a minute (`known`'s renote), not on every hit.
    @inline(__always)
    func key(of text: UnsafeRawBufferPointer, in lane: EmbeddingNode, minute: UInt32, notes: inout [CacheKey]) -> KnownText? {
        let textHash = EmbeddingNode.textHash(text)
        if let remembered = self.known(textHash, minute: minute) {
            if remembered.renote { notes.append(remembered.known.key) }
            return remembered.known
        }
        return self.learn(textHash, in: lane, minute: minute, notes: &notes)
    }

    /// A memo miss: the alias table, then the memo and the overlap sample.
    @inline(never)
    private func learn(_ textHash: Hash128, in lane: EmbeddingNode, minute: UInt32, notes: inout [CacheKey]) -> KnownText? {
        guard let found = lane.knownKeyAndTokens(textHash: textHash) else { return nil }
        let known = KnownText(key: found.key, tokens: found.tokens)
        let sampled = lane.savings.overlap.isSampled(found.key)
        self.remember(textHash, known, sampled: sampled, minute: minute)
        if sampled { notes.append(found.key) }
        return known
    }

    func remember(_ textHash: Hash128, _ known: KnownText, sampled: Bool, minute: UInt32) {
        let slots = self.slots ?? {
            let made = UnsafeMutablePointer<Slot>.allocate(capacity: Self.slotCount)
            made.initialize(repeating: Slot(), count: Self.slotCount)
            self.slots = made
            return made
        }()
        slots[self.index(textHash)] = Slot(textHash: textHash, key: known.key.hash, tokens: Int32(clamping: known.tokens),
                                                notedMinute: minute, used: true, sampled: sampled)
    }

    /// Forgets every slot. The connection's caller changed: its keys must be noted again in the
    /// overlap sample under the new caller, and a memo miss is where that happens.
    func forgetAll() {
        self.slots?.update(repeating: Slot(), count: Self.slotCount)
    }
}
