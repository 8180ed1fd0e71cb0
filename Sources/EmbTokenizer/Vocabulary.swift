// The WordPiece vocabulary as an open-addressing hash table over UTF-8 bytes, so a lookup of a
// candidate piece (a slice of the word being split) allocates nothing. Continuation pieces are stored
// with their "##" prefix, as in vocab.txt; a lookup with `continuation: true` hashes and compares the
// prefix without building the prefixed string.

/// Token → id, for byte slices.
struct Vocabulary: Sendable {
    /// All tokens' bytes, back to back.
    private let blob: [UInt8]
    /// Per slot: token offset in `blob` (+1; 0 = empty slot), length, id, and 32 bits of hash.
    private let offsets: [UInt32]
    private let lengths: [UInt16]
    private let ids: [Int32]
    private let hashes: [UInt32]
    private let mask: Int
    /// Number of tokens (the largest id + 1).
    let count: Int

    init(text: String) throws {
        var tokens: [[UInt8]] = []
        text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).forEach { line in
            var bytes = Array(line)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            tokens.append(bytes)
        }
        if tokens.last?.isEmpty == true { tokens.removeLast() }  // the final newline
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw TokenizerError(.badVocabulary, "the vocabulary is empty")
        }
        var capacity = 1
        while capacity < 2 * tokens.count { capacity <<= 1 }
        var blob: [UInt8] = []
        var offsets = [UInt32](repeating: 0, count: capacity)
        var lengths = [UInt16](repeating: 0, count: capacity)
        var ids = [Int32](repeating: 0, count: capacity)
        var hashes = [UInt32](repeating: 0, count: capacity)
        for (id, token) in tokens.enumerated() {
            guard token.count < Int(UInt16.max) else { throw TokenizerError(.badVocabulary, "token \(id) is too long") }
            let h = Self.hash(prefix: false, token[...])
            var slot = Int(truncatingIfNeeded: h) & (capacity - 1)
            // A token listed twice keeps the later id, as Hugging Face's WordPiece.read_file does.
            while offsets[slot] != 0 {
                let start = Int(offsets[slot]) - 1
                if hashes[slot] == UInt32(truncatingIfNeeded: h), blob[start..<start + Int(lengths[slot])].elementsEqual(token) {
                    break
                }
                slot = (slot + 1) & (capacity - 1)
            }
            if offsets[slot] == 0 {
                offsets[slot] = UInt32(blob.count + 1)
                lengths[slot] = UInt16(token.count)
                blob.append(contentsOf: token)
                hashes[slot] = UInt32(truncatingIfNeeded: h)
            }
            ids[slot] = Int32(id)
        }
        self.blob = blob
        self.offsets = offsets
        self.lengths = lengths
        self.ids = ids
        self.hashes = hashes
        self.mask = capacity - 1
        self.count = tokens.count
    }

    /// The id of `piece` (prefixed with "##" when `continuation`), or nil.
    @inline(__always)
    func id(of piece: ArraySlice<UInt8>, continuation: Bool) -> Int32? {
        let h = Self.hash(prefix: continuation, piece)
        let h32 = UInt32(truncatingIfNeeded: h)
        let length = piece.count + (continuation ? 2 : 0)
        var slot = Int(truncatingIfNeeded: h) & self.mask
        return self.blob.withUnsafeBufferPointer { blob in
            while self.offsets[slot] != 0 {
                if self.hashes[slot] == h32 && Int(self.lengths[slot]) == length {
                    var start = Int(self.offsets[slot]) - 1
                    var equal = true
                    if continuation {
                        equal = blob[start] == UInt8(ascii: "#") && blob[start + 1] == UInt8(ascii: "#")
                        start += 2
                    }
                    if equal {
                        var i = start
                        for b in piece {
                            if blob[i] != b {
                                equal = false
                                break
                            }
                            i += 1
                        }
                    }
                    if equal { return self.ids[slot] }
                }
                slot = (slot + 1) & self.mask
            }
            return nil
        }
    }

    /// FNV-1a, 64 bits, over "##" (when `prefix`) then `bytes`: short keys, so a simple byte loop wins.
    @inline(__always)
    static func hash(prefix: Bool, _ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        if prefix {
            h = (h ^ 0x23) &* 0x100_0000_01b3
            h = (h ^ 0x23) &* 0x100_0000_01b3
        }
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h ^ (h >> 29)
    }
}
