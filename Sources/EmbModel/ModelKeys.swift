// What deriving a model's cache keys takes, without its weights: the config (sequence limit), the
// tokenizer and the fingerprint. For `embcache warm`, which groups texts by owner and deduplicates
// them by key before sending, and must not spend a node's load time quantizing 400 MB to do so.
import EmbHash
import EmbTokenizer

/// Keys of one model: text → token ids → cache key, exactly as a node serving it derives them.
public struct ModelKeys: Sendable {
    public let config: BertConfig
    public let tokenizer: BertTokenizer
    public let fingerprint: ModelFingerprint

    /// Reads `directory`'s config, tokenizer and fingerprint under quantization scheme `scheme` (the
    /// int8 one, as nodes serve), each file once.
    public init(directory: String, scheme: String = Int8Scheme.id) throws {
        let files = try ModelFiles(directory: directory)
        self.config = try BertConfig.load(directory: directory)
        let settings = try TokenizerSettings.load(directory: directory)
        self.tokenizer = try Self.tokenizer(settings)
        guard self.tokenizer.vocabularySize == self.config.vocabularySize else {
            throw ModelError(.unsupportedModel, "the vocabulary has \(self.tokenizer.vocabularySize) tokens, config.json says \(self.config.vocabularySize)")
        }
        self.fingerprint = try files.fingerprint(scheme: scheme, config: self.config, tokenizer: settings)
    }

    /// The tokenizer of the model folder `directory` (BERT's or MPNet's, as its files say), without
    /// reading the weights.
    public static func tokenizer(directory: String) throws -> BertTokenizer {
        try Self.tokenizer(TokenizerSettings.load(directory: directory))
    }

    static func tokenizer(_ settings: TokenizerSettings) throws -> BertTokenizer {
        try BertTokenizer(vocabularyText: settings.vocabularyText, lowercase: settings.lowercase, specials: settings.specials)
    }

    /// The cache key of `text`.
    public func key(_ text: String) -> CacheKey {
        CacheKey(fingerprint: self.fingerprint, tokenIDs: self.tokenizer.encode(text, maxTokens: self.config.maxTokens))
    }
}
