// Where a model lives on disk and what identifies it. The fingerprint is the contract's "model
// identity": XXH3-128 over the weights, vocabulary and config files plus the quantization scheme and
// the settings read from the sentence-transformers files (pooling, normalization, sequence limit), so a
// different model, pooling or kernel scheme never serves another's vectors.
import EmbHash
import Foundation

/// The files of one model folder (as `Scripts/fetch-model` unpacks it).
public struct ModelFiles: Sendable {
    /// The folder, e.g. `models/all-MiniLM-L6-v2`.
    public let directory: String

    /// The default folder, relative to the working directory.
    public static let defaultDirectory = "models/all-MiniLM-L6-v2"

    /// The safetensors weights.
    public var weights: String { self.directory + "/model.safetensors" }
    /// WordPiece vocabulary, one token a line (or, without it, tokenizer.json's vocabulary).
    public var vocabulary: String { self.directory + "/vocab.txt" }
    /// The Hugging Face tokenizer description.
    public var tokenizerJSON: String { self.directory + "/tokenizer.json" }
    /// The BERT config.
    public var config: String { self.directory + "/config.json" }

    /// Checks that the folder holds the files embcache needs; the error says how to fetch them.
    public init(directory: String) throws {
        self.directory = directory
        let exists = { FileManager.default.fileExists(atPath: $0) }
        let missing = [self.weights, self.config].filter { !exists($0) } + (exists(self.vocabulary) || exists(self.tokenizerJSON) ? [] : [self.vocabulary])
        if let path = missing.first {
            throw ModelError(
                .missingFile,
                "model file \(path) not found; fetch the model with Scripts/fetch-model "
                    + "(or point --model at a folder holding model.safetensors, config.json and vocab.txt or tokenizer.json)"
            )
        }
    }

    /// The fingerprint of these files under quantization scheme `scheme` (e.g. `Int8Scheme.id`).
    /// Streams the files (about 20 ms for this model), so call it once at load.
    public func fingerprint(scheme: String) throws -> ModelFingerprint {
        try self.fingerprint(scheme: scheme, config: BertConfig.load(directory: self.directory),
                             tokenizer: TokenizerSettings.load(directory: self.directory))
    }

    /// The fingerprint, for a caller that has already read the folder's config and tokenizer settings.
    func fingerprint(scheme: String, config: BertConfig, tokenizer: TokenizerSettings) throws -> ModelFingerprint {
        let hasher = XXH3Hasher128()
        hasher.update("embcache-model\u{0}scheme=\(scheme)\u{0}")
        // What the files below do not say by themselves: the pooling, the sequence limit and the tokenizer.
        hasher.update("pooling=\(config.pooling) max_tokens=\(config.maxTokens) tokenizer=\(tokenizer.canonical)\u{0}")
        // The architecture, when it is not BERT (so BERT fingerprints stay as they were): MPNet's
        // relative position bias and position ids are arithmetic the files alone do not name.
        if config.architecture == .mpnet {
            hasher.update("architecture=mpnet buckets=\(config.relativeAttentionBuckets) max_distance=\(BertConfig.mpnetMaxDistance) "
                          + "padding=\(config.paddingID)\u{0}")
        }
        let vocabulary = FileManager.default.fileExists(atPath: self.vocabulary) ? self.vocabulary : self.tokenizerJSON
        for path in [self.weights, vocabulary, self.config] {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ModelError(.missingFile, "cannot read \(path)")
            }
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { hasher.update($0) }
            }
            hasher.update("\u{0}")
        }
        return ModelFingerprint(hasher.finalize())
    }
}
