// The owner's word on each forwarded text: PEER.MEMBED replies with the vectors and then one more
// bulk string, one byte a text, saying which tier answered it on the owner. The forwarding node
// needs it to tell a duplicate (the owner had it cached) from a text the owner had to compute, so
// that the caller who asked is charged exactly (Sources/EmbNode/Savings/Tally.swift). A reply
// without it (an older peer) is read as "computed": no saving is claimed that cannot be shown.
import EmbNode

enum PeerTiers {
    /// The byte for `tier` ('l' l1, '2' l2, 'c' computed, 'o' coalesced; 'h' and 'f' never happen
    /// on an owner but are defined).
    static func code(_ tier: Tier) -> UInt8 {
        switch tier {
        case .l1: return UInt8(ascii: "l")
        case .l2: return UInt8(ascii: "2")
        case .computed: return UInt8(ascii: "c")
        case .coalesced: return UInt8(ascii: "o")
        case .hot: return UInt8(ascii: "h")
        case .forwarded: return UInt8(ascii: "f")
        }
    }

    /// Whether text `i` was computed by the owner, from the codes of its reply (nil: it did not say).
    static func computed(_ codes: [UInt8]?, _ i: Int) -> Bool {
        guard let codes, i < codes.count else { return true }
        return codes[i] == UInt8(ascii: "c")
    }
}
