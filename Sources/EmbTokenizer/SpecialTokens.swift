// The special tokens of a WordPiece tokenizer: the ids put around a text (BERT's [CLS] … [SEP],
// MPNet's <s> … </s>) and the added tokens Hugging Face's tokenizers match in the text itself. An
// added token is matched either in the raw text (`"normalized": false` in tokenizer.json: "[CLS]",
// "<s>", exact bytes) or in the normalized text (`"normalized": true`: MPNet's "<unk>", so "<UNK>"
// matches too once lowercased). Its lstrip/rstrip flags only move whitespace, which WordPiece drops
// anyway, so they do not change ids.

/// The tokens around a text and the added tokens matched in it.
public struct SpecialTokens: Sendable, Equatable {
    /// The first token of every sequence.
    public var cls: String
    /// The last token of every sequence.
    public var sep: String
    /// The padding token (MPNet's position ids skip it).
    public var pad: String
    /// WordPiece's unknown piece.
    public var unk: String
    /// Added tokens matched in the raw text.
    public var raw: [String]
    /// Added tokens matched in the normalized text: lowercase ASCII without spaces (checked at load).
    public var normalized: [String]

    /// Makes a set of specials.
    public init(cls: String, sep: String, pad: String, unk: String, raw: [String], normalized: [String] = []) {
        (self.cls, self.sep, self.pad, self.unk, self.raw, self.normalized) = (cls, sep, pad, unk, raw, normalized)
    }

    /// BERT's: [CLS] text [SEP], the five bracketed tokens matched in raw text.
    public static let bert = SpecialTokens(cls: "[CLS]", sep: "[SEP]", pad: "[PAD]", unk: "[UNK]",
                                           raw: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])

    /// What the fingerprint records (BERT's set records nothing, so BERT fingerprints are unchanged).
    public var canonical: String {
        self == .bert ? "" : ":specials=\(cls),\(sep),\(pad),\(unk):raw=\(raw.joined(separator: ",")):normalized=\(normalized.joined(separator: ","))"
    }
}

extension BertTokenizer {
    /// Whether an added token starts with the ASCII byte `b`.
    @inline(__always)
    func mayStartSpecial(_ b: UInt8) -> Bool {
        b < 64 ? self.specialStarts.0 & (1 << UInt64(b)) != 0 : self.specialStarts.1 & (1 << UInt64(b - 64)) != 0
    }

    /// An added token matched in the normalized text at raw offset `i`: the raw bytes it spans, and its
    /// id. Walks the raw scalars through the same normalization as the scan (removed ones skipped,
    /// whitespace or isolated CJK ends the match) and compares what they become with the token.
    func normalizedToken(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int32)? {
        tokens: for (token, id) in self.normalizedTokens where token[0] == p[i] {
            var k = 1
            var j = i + 1
            func take(_ s: Unicode.Scalar) -> Bool {
                guard k < token.count, s.value == UInt32(token[k]) else { return false }
                k += 1
                return true
            }
            while k < token.count && j < p.count {
                let b = p[j]
                if b < 0x80 {
                    j += 1
                    switch self.tables.asciiAction[Int(b)] {
                    case 0: continue
                    case 1: continue tokens
                    case 2: if !take(Unicode.Scalar(b)) { continue tokens }
                    default: if !take(Unicode.Scalar(self.lowercase ? b | 0x20 : b)) { continue tokens }
                    }
                    continue
                }
                guard let (scalar, length) = Self.decodeScalar(p, at: j) else { continue tokens }
                j += length
                switch self.lowercase ? self.tables.action(scalar) : self.tables.casedAction(scalar) {
                case .remove: continue
                case .whitespace, .isolate: continue tokens
                case .map(let a, let b, let c):
                    guard take(a), b == nil || take(b!), c == nil || take(c!) else { continue tokens }
                case .mapMany(let many):
                    for s in many where !take(s) { continue tokens }
                case .keep: if !take(scalar) { continue tokens }
                }
            }
            if k == token.count { return (j - i, id) }
        }
        return nil
    }
}
