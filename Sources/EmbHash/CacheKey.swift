// The cache key of a text, derived from what the encoder will actually see (the contract's "Model
// identity and keys"): XXH3-128 over the model fingerprint's 16 canonical bytes followed by the
// token ids (after normalization and truncation) as little-endian int32. Texts the model cannot tell
// apart ("Hello  World", "hello world") therefore share one entry.

/// Identifies a model and the quantization scheme that runs it. Vectors computed under one
/// fingerprint are never served under another.
public struct ModelFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// The 128-bit hash over the weights, vocabulary, config and scheme version.
    public let hash: Hash128

    /// Wraps a hash computed elsewhere (see `EmbModel`'s model loader).
    public init(_ hash: Hash128) {
        self.hash = hash
    }

    public var description: String { self.hash.hex }
}

/// A text's key in L1, L2 and on the ring.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    /// The 128-bit key.
    public let hash: Hash128

    /// Wraps an existing key (e.g. parsed from hex).
    public init(_ hash: Hash128) {
        self.hash = hash
    }

    /// The key of `tokenIDs` under `fingerprint`.
    public init(fingerprint: ModelFingerprint, tokenIDs: [Int32]) {
        var bytes = fingerprint.hash.canonicalBytes
        bytes.reserveCapacity(16 + 4 * tokenIDs.count)
        for id in tokenIDs {
            let v = UInt32(bitPattern: id)
            bytes.append(UInt8(truncatingIfNeeded: v))
            bytes.append(UInt8(truncatingIfNeeded: v >> 8))
            bytes.append(UInt8(truncatingIfNeeded: v >> 16))
            bytes.append(UInt8(truncatingIfNeeded: v >> 24))
        }
        self.hash = XXH3.hash128(bytes)
    }

    /// The key's position on the consistent-hash ring: its first 64 bits.
    public var ringPosition: UInt64 { self.hash.high }

    /// 32 hex digits; also the Redis key suffix.
    public var hex: String { self.hash.hex }

    public var description: String { self.hex }
}
