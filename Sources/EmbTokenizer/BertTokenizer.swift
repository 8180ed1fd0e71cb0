// BERT's WordPiece tokenizer, identical to Hugging Face `tokenizers` with a BERT model's
// tokenizer.json: special tokens split from the raw text, then BertNormalizer (clean text, CJK
// isolated, and for an uncased model, like all-MiniLM-L6-v2's, accents stripped and lowercased; a
// cased model keeps both), BertPreTokenizer (whitespace split, punctuation isolated),
// WordPiece (greedy longest match, "##" continuations, [UNK] for a word over 100 characters or with
// an unmatched rest), [CLS] … [SEP], truncation to 256 tokens in all (sentence_bert_config.json).
// MPNet's tokenizer is the same pipeline with other specials (SpecialTokens.swift): <s> … </s>, and
// an added token ("<unk>") matched after normalization.
//
// Token ids are part of the cache key, so exactness is the first requirement; speed the second (this
// runs on every cache hit). One pass over the UTF-8 bytes: ASCII through two 128-entry tables,
// other scalars through tables generated from the reference implementation (UnicodeTables.swift),
// words collected in a reused byte buffer and looked up without allocating.

import Foundation

/// Text → token ids for the served model.
public struct BertTokenizer: Sendable {
    /// Tokens the encoder sees at most, [CLS] and [SEP] included.
    public static let defaultMaxTokens = 256
    /// Longer words become [UNK] (WordPiece's max_input_chars_per_word).
    static let maxWordCharacters = 100

    let vocabulary: Vocabulary
    let tables = NormalizationTables.shared
    /// (bytes, id) of the added tokens matched in raw text, e.g. "[CLS]".
    let specialTokens: [([UInt8], Int32)]
    /// (bytes, id) of the added tokens matched in normalized text (MPNet's "<unk>").
    let normalizedTokens: [([UInt8], Int32)]
    /// Bit b set: an added token starts with the ASCII byte b (the scan tries a match only there).
    let specialStarts: (UInt64, UInt64)

    /// Id of [CLS] (or the model's first token, e.g. MPNet's <s>).
    public let clsID: Int32
    /// Id of [SEP] (or the model's last token, e.g. MPNet's </s>).
    public let sepID: Int32
    /// Id of [PAD] (MPNet: <pad>).
    public let padID: Int32
    /// Id of [UNK] (WordPiece's unknown piece).
    public let unkID: Int32

    /// Whether text is lowercased and stripped of accents (an uncased model) or kept as it is (cased).
    public let lowercase: Bool

    /// Number of entries of the vocabulary.
    public var vocabularySize: Int { self.vocabulary.count }

    /// Loads vocab.txt (an uncased model's).
    public init(vocabularyFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TokenizerError(.missingFile, "cannot read the vocabulary \(path); fetch the model with Scripts/fetch-model")
        }
        try self.init(vocabularyText: text)
    }

    /// Builds the tokenizer from vocab.txt's contents (one token a line; the line number is the id).
    /// `lowercase`: false for a cased model (no lowercasing, no accent stripping). `specials`: the
    /// tokens around a text and the added tokens matched in it (BERT's by default).
    public init(vocabularyText: String, lowercase: Bool = true, specials: SpecialTokens = .bert) throws {
        self.lowercase = lowercase
        let vocabulary = try Vocabulary(text: vocabularyText)
        func special(_ token: String) throws -> Int32 {
            guard let id = vocabulary.id(of: Array(token.utf8)[...], continuation: false) else {
                throw TokenizerError(.badVocabulary, "the vocabulary has no \(token)")
            }
            return id
        }
        self.vocabulary = vocabulary
        self.clsID = try special(specials.cls)
        self.sepID = try special(specials.sep)
        self.padID = try special(specials.pad)
        self.unkID = try special(specials.unk)
        self.specialTokens = try specials.raw.map { (Array($0.utf8), try special($0)) }
        self.normalizedTokens = try specials.normalized.map { (Array($0.utf8), try special($0)) }
        var starts: (UInt64, UInt64) = (0, 0)
        for (token, _) in self.specialTokens + self.normalizedTokens {
            guard let b = token.first, b < 0x80 else {
                throw TokenizerError(.badVocabulary, "the added token \(String(decoding: token, as: UTF8.self)) does not start with an ASCII character")
            }
            if b < 64 { starts.0 |= 1 << UInt64(b) } else { starts.1 |= 1 << UInt64(b - 64) }
        }
        self.specialStarts = starts
    }

    /// The token ids of `text`, [CLS] first and [SEP] last, at most `maxTokens` in all.
    public func encode(_ text: String, maxTokens: Int = BertTokenizer.defaultMaxTokens) -> [Int32] {
        var text = text
        return text.withUTF8 { self.encode(utf8: UnsafeRawBufferPointer($0), maxTokens: maxTokens) }!
    }

    /// The token ids of a UTF-8 text, or nil when the bytes are not valid UTF-8.
    public func encode(utf8 bytes: UnsafeRawBufferPointer, maxTokens: Int = BertTokenizer.defaultMaxTokens) -> [Int32]? {
        precondition(maxTokens >= 2, "room for [CLS] and [SEP] is needed")
        var state = EncodeState(budget: maxTokens - 2, cls: self.clsID)
        guard self.run(bytes, &state) else { return nil }
        state.ids.append(self.sepID)
        return state.ids
    }
}

/// The per-call state of one encode: ids so far, the word being collected.
struct EncodeState {
    var ids: [Int32]
    var word: [UInt8] = []
    var wordCharacters = 0
    /// Word-pieces still allowed (truncation).
    var budget: Int

    init(budget: Int, cls: Int32) {
        self.budget = budget
        self.ids = [cls]
        self.ids.reserveCapacity(32)
        self.word.reserveCapacity(64)
    }
}
