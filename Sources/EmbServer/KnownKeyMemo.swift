// A connection's memo of text hash → cache key, in front of the node's shared alias table.
//
// A text's cache key never changes (it is a function of the model and the text), so an entry can
// never be stale and needs no invalidation; a collision of slots just overwrites. What it saves is
// the alias table's shard lock on every repeated text: a RAG service's connection asks for the same
// texts again and again, and at -P 16 that lock was a sixth of the hit path (Docs/benchmarks.md).
// It belongs to one connection, so one event-loop thread: no lock, no atomics.
import EmbHash

final class KnownKeyMemo {
    private struct Slot {
        var textHash = Hash128(high: 0, low: 0)
        var key = Hash128(high: 0, low: 0)
        var used = false
    }

    /// 64 slots × 40 bytes: 2.5 KB per connection, allocated at the first text remembered (so a
    /// connection that never sends EMBED, e.g. one of 10k idle ones, costs none).
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

    /// The remembered key of the text with this hash, if any.
    @inline(__always)
    func key(_ textHash: Hash128) -> CacheKey? {
        guard let slots = self.slots else { return nil }
        let slot = slots[self.index(textHash)]
        guard slot.used, slot.textHash == textHash else { return nil }
        return CacheKey(slot.key)
    }

    func remember(_ textHash: Hash128, _ key: CacheKey) {
        let slots = self.slots ?? {
            let made = UnsafeMutablePointer<Slot>.allocate(capacity: Self.slotCount)
            made.initialize(repeating: Slot(), count: Self.slotCount)
            self.slots = made
            return made
        }()
        slots[self.index(textHash)] = Slot(textHash: textHash, key: key.hash, used: true)
    }
}
