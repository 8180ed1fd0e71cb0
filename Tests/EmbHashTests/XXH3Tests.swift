import EmbHash
import Testing

@Suite struct XXH3Tests {
    // Expected values from the Python `xxhash` package (xxh3_64 / xxh3_128 of b"").
    @Test func hash64OfEmptyInputMatchesTheReferenceValue() {
        #expect(XXH3.hash64("") == 0x2D06_8005_38D3_94C2)
    }

    @Test func hash128OfEmptyInputMatchesTheReferenceValue() {
        #expect(XXH3.hash128([]).hex == "99aa06d3014798d86001c324468d497f")
    }

    @Test func streamingAndOneShotHashesAgree() {
        let bytes: [UInt8] = Array("the quick brown fox jumps over the lazy dog".utf8)
        let hasher = XXH3Hasher128()
        bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<10])) }
        bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[10...])) }
        #expect(hasher.finalize() == XXH3.hash128(bytes))
    }

    @Test func hexRoundTrips() {
        let h = Hash128(high: 0x0123_4567_89ab_cdef, low: 0x1)
        #expect(h.hex == "0123456789abcdef0000000000000001")
        #expect(Hash128(hex: h.hex) == h)
        #expect(Hash128(hex: "xyz") == nil)
    }

    @Test func cacheKeyDependsOnFingerprintAndTokensAndIsStable() {
        let f1 = ModelFingerprint(Hash128(high: 1, low: 2))
        let f2 = ModelFingerprint(Hash128(high: 1, low: 3))
        let a = CacheKey(fingerprint: f1, tokenIDs: [101, 7592, 102])
        #expect(a == CacheKey(fingerprint: f1, tokenIDs: [101, 7592, 102]))
        #expect(a != CacheKey(fingerprint: f2, tokenIDs: [101, 7592, 102]))
        #expect(a != CacheKey(fingerprint: f1, tokenIDs: [101, 7593, 102]))
        #expect(a.ringPosition == a.hash.high)
    }
}
