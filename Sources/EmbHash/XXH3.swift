// XXH3 over bytes, the one hash family embcache uses: cache keys (128 bits), ring points and key
// positions (64 bits), and model fingerprints (128 bits, streamed over files).
// This is the only module that sees libxxhash's types; nothing `XXH128_hash_t` escapes it.
import CXXHash

/// A 128-bit hash value, in the canonical order xxHash prints it: `high` first.
public struct Hash128: Hashable, Sendable, CustomStringConvertible {
    /// The first 64 bits of the canonical (big-endian) form.
    public var high: UInt64
    /// The last 64 bits of the canonical form.
    public var low: UInt64

    /// Makes a hash from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 lowercase hex digits, `high` first (xxhsum's `--tag`-less 128-bit form).
    public var hex: String {
        String(unsafeUninitializedCapacity: 32) { out in
            self.writeHex(into: UnsafeMutableRawBufferPointer(out))
            return 32
        }
    }

    /// Writes the 32 digits of `hex` into the first 32 bytes of `out`, with no String (a Redis key
    /// is built per lookup on the hit path).
    public func writeHex(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 32, "32 bytes needed")
        func write(_ half: UInt64, at offset: Int) {
            for i in 0..<16 {
                let digit = UInt8(truncatingIfNeeded: (half >> UInt64(60 - 4 * i)) & 0xF)
                out[offset + i] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
            }
        }
        write(self.high, at: 0)
        write(self.low, at: 16)
    }

    public var description: String { self.hex }

    /// Parses the 32-digit hex form that `hex` prints.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 32,
            let high = UInt64(hex.prefix(16), radix: 16),
            let low = UInt64(hex.suffix(16), radix: 16)
        else { return nil }
        self.init(high: high, low: low)
    }

    /// The 16 canonical bytes, big-endian, `high` first.
    public var canonicalBytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: self.high >> (56 - 8 * i))
            bytes[8 + i] = UInt8(truncatingIfNeeded: self.low >> (56 - 8 * i))
        }
        return bytes
    }

}

/// One-shot XXH3 hashes (seed 0).
public enum XXH3 {
    /// XXH3-64 of `bytes`.
    public static func hash64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    /// XXH3-64 of a string's UTF-8 bytes.
    public static func hash64(_ string: String) -> UInt64 {
        var string = string
        return string.withUTF8 { XXH3.hash64(UnsafeRawBufferPointer($0)) }
    }

    /// XXH3-128 of `bytes`.
    public static func hash128(_ bytes: UnsafeRawBufferPointer) -> Hash128 {
        let h = XXH3_128bits(bytes.baseAddress, bytes.count)
        return Hash128(high: h.high64, low: h.low64)
    }

    /// XXH3-128 of a byte array.
    public static func hash128(_ bytes: [UInt8]) -> Hash128 {
        bytes.withUnsafeBytes { XXH3.hash128($0) }
    }
}

/// Streaming XXH3-128, for inputs that come in pieces (a model's files).
/// Not `Sendable`: one owner feeds it, then reads `finalize()`.
public final class XXH3Hasher128 {
    private let state: OpaquePointer

    /// A fresh state (seed 0).
    public init() {
        guard let state = XXH3_createState() else {
            fatalError("XXH3_createState: out of memory")
        }
        self.state = state
        XXH3_128bits_reset(state)
    }

    deinit {
        XXH3_freeState(self.state)
    }

    /// Adds bytes to the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        XXH3_128bits_update(self.state, bytes.baseAddress, bytes.count)
    }

    /// Adds a string's UTF-8 bytes to the hash.
    public func update(_ string: String) {
        var string = string
        string.withUTF8 { self.update(UnsafeRawBufferPointer($0)) }
    }

    /// The hash of everything added so far.
    public func finalize() -> Hash128 {
        let h = XXH3_128bits_digest(self.state)
        return Hash128(high: h.high64, low: h.low64)
    }
}
