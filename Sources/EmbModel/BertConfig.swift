// The shape of the one model embcache serves: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer,
// 384-wide uncased BERT with mean pooling and L2 normalization). The values are read from the model's
// config.json and checked against what the kernels were built for, so a different model is refused at
// load time with a clear error instead of producing vectors of the wrong kind.
import Foundation

/// BERT hyper-parameters of the served model.
public struct BertConfig: Sendable, Equatable {
    /// Width of every hidden state (and of the output vector).
    public var hiddenSize = 384
    /// Number of transformer layers.
    public var layerCount = 6
    /// Attention heads per layer; `hiddenSize / headCount` is the head width (32).
    public var headCount = 12
    /// Width of the feed-forward layer.
    public var intermediateSize = 1536
    /// Rows of the position-embedding table.
    public var maxPositions = 512
    /// Rows of the word-embedding table.
    public var vocabularySize = 30522
    /// Rows of the token-type table (only type 0 is used).
    public var typeVocabularySize = 2
    /// LayerNorm epsilon.
    public var layerNormEpsilon: Float = 1e-12
    /// Tokens the encoder sees at most, [CLS] and [SEP] included (sentence_bert_config.json's
    /// max_seq_length; NOT tokenizer.json's 128).
    public var maxTokens = 256

    /// The all-MiniLM-L6-v2 shape.
    public static let miniLML6 = BertConfig()

    /// Width of one attention head.
    public var headSize: Int { self.hiddenSize / self.headCount }

    /// Reads `config.json` (and `sentence_bert_config.json` when present) from `directory` and checks
    /// that they describe the model the kernels support.
    public static func load(directory: String) throws -> BertConfig {
        let json = try Self.readObject(directory + "/config.json")
        var config = BertConfig()
        func int(_ key: String) throws -> Int {
            guard let v = json[key] as? Int else {
                throw ModelError(.badConfig, "config.json: missing or non-integer \"\(key)\"")
            }
            return v
        }
        config.hiddenSize = try int("hidden_size")
        config.layerCount = try int("num_hidden_layers")
        config.headCount = try int("num_attention_heads")
        config.intermediateSize = try int("intermediate_size")
        config.maxPositions = try int("max_position_embeddings")
        config.vocabularySize = try int("vocab_size")
        config.typeVocabularySize = try int("type_vocab_size")
        if let eps = json["layer_norm_eps"] as? Double { config.layerNormEpsilon = Float(eps) }
        if let act = json["hidden_act"] as? String, act != "gelu" {
            throw ModelError(.unsupportedModel, "config.json: hidden_act \"\(act)\" (only exact-erf \"gelu\" is supported)")
        }
        if let kind = json["position_embedding_type"] as? String, kind != "absolute" {
            throw ModelError(.unsupportedModel, "config.json: position_embedding_type \"\(kind)\" (only \"absolute\")")
        }
        let sbert = directory + "/sentence_bert_config.json"
        if FileManager.default.fileExists(atPath: sbert), let n = try Self.readObject(sbert)["max_seq_length"] as? Int {
            config.maxTokens = n
        }
        guard config.hiddenSize == 384, config.headCount == 12, config.intermediateSize == 1536,
            config.maxTokens <= config.maxPositions
        else {
            throw ModelError(
                .unsupportedModel,
                "config.json describes hidden \(config.hiddenSize), heads \(config.headCount), "
                    + "ffn \(config.intermediateSize); embcache serves all-MiniLM-L6-v2 (384, 12, 1536)"
            )
        }
        return config
    }

    private static func readObject(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(.missingFile, "cannot read \(path)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError(.badConfig, "\(path) is not a JSON object")
        }
        return object
    }
}
