// The shape of a BERT-family sentence model (all-MiniLM, bge, e5, gte, multi-qa-MiniLM...): read from
// the model's config.json (and the sentence-transformers files beside it) and checked against what the
// encoder implements: a BERT encoder with absolute positions, post-LayerNorm layers and exact-erf GELU.
// MPNet (all-mpnet-base-v2) is the same encoder with a relative position bias and no token types
// (MPNet.swift). Anything else (another architecture, rotary positions, another activation) is
// refused at load with an error naming what is unsupported: a wrong vector cached under a right key is
// the worst outcome.
import Foundation

/// BERT hyper-parameters of a served model.
public struct BertConfig: Sendable, Equatable {
    /// Width of every hidden state (and of the output vector).
    public var hiddenSize = 384
    /// Number of transformer layers.
    public var layerCount = 6
    /// Attention heads per layer; `hiddenSize / headCount` is the head width.
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
    /// Tokens the encoder sees at most, [CLS] and [SEP] included: sentence_bert_config.json's
    /// max_seq_length, else tokenizer_config.json's model_max_length, capped by the position table.
    public var maxTokens = 256
    /// How token states become the vector (modules.json, 1_Pooling/config.json).
    public var pooling = Pooling.meanNormalized
    /// BERT, or MPNet (relative position bias, positions after the padding id, no token types).
    public var architecture = Architecture.bert
    /// MPNet: buckets of the relative position bias (config.json's relative_attention_num_buckets); 0 for BERT.
    public var relativeAttentionBuckets = 0
    /// MPNet: the padding id (config.json's pad_token_id); positions count from it + 1 and skip it.
    public var paddingID = 1

    /// The encoder families embcache implements.
    public enum Architecture: String, Sendable {
        /// BERT: absolute positions from 0 plus token type 0.
        case bert
        /// MPNet: absolute positions from padding id + 1, a bucketed relative position bias on every layer's scores.
        case mpnet
    }

    /// Rows of the position table before the first token's (MPNet: the padding id + 1).
    public var positionOffset: Int { self.architecture == .mpnet ? self.paddingID + 1 : 0 }

    /// The all-MiniLM-L6-v2 shape.
    public static let miniLML6 = BertConfig()

    /// Width of one attention head.
    public var headSize: Int { self.hiddenSize / self.headCount }

    /// The architectures config.json may name (the base model and the heads whose checkpoints hold it).
    static let bertArchitectures: Set<String> = ["BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForSequenceClassification"]
    /// Longest sequence served: the kernels and workspaces are sized and tested up to BERT's 512.
    public static let maxSupportedTokens = 512

    /// Reads `config.json`, `sentence_bert_config.json`, `tokenizer_config.json` and the pooling
    /// modules from `directory` and checks that they describe a model the encoder supports.
    public static func load(directory: String) throws -> BertConfig {
        let path = directory + "/config.json"
        guard let json = try JSONFile.object(path) else { throw ModelError(.missingFile, "cannot read \(path)") }
        var config = BertConfig()
        config.architecture = try Self.checkFamily(json, path: path)
        func int(_ key: String) throws -> Int {
            guard let v = json[key] as? Int, v > 0 else {
                throw ModelError(.badConfig, "config.json: missing or non-positive integer \"\(key)\"")
            }
            return v
        }
        config.hiddenSize = try int("hidden_size")
        config.layerCount = try int("num_hidden_layers")
        config.headCount = try int("num_attention_heads")
        config.intermediateSize = try int("intermediate_size")
        config.maxPositions = try int("max_position_embeddings")
        config.vocabularySize = try int("vocab_size")
        config.typeVocabularySize = (json["type_vocab_size"] as? Int) ?? (config.architecture == .mpnet ? 0 : 2)
        if let eps = json["layer_norm_eps"] as? Double { config.layerNormEpsilon = Float(eps) }
        guard config.hiddenSize % config.headCount == 0 else {
            throw ModelError(.badConfig, "config.json: hidden_size \(config.hiddenSize) is not a multiple of num_attention_heads \(config.headCount)")
        }
        if config.architecture == .mpnet {
            try config.readMPNet(json)
        } else {
            guard config.typeVocabularySize >= 1 else { throw ModelError(.badConfig, "config.json: type_vocab_size must be at least 1") }
        }
        config.maxTokens = try Self.maxSequenceLength(directory: directory, maxPositions: config.maxPositions - config.positionOffset)
        config.pooling = try Pooling.load(directory: directory, hiddenSize: config.hiddenSize)
        return config
    }

    /// Refuses a config.json outside the family, naming the first thing that is not BERT or MPNet.
    static func checkFamily(_ json: [String: Any], path: String) throws -> Architecture {
        let type = json["model_type"] as? String
        guard let architecture = type.flatMap(Architecture.init(rawValue:)) else {
            throw ModelError(.unsupportedModel, "config.json: model_type \"\(type ?? "(none)")\" is not supported: embcache serves "
                             + "BERT-family models (model_type \"bert\": all-MiniLM, bge, e5, gte, multi-qa-MiniLM) and MPNet (\"mpnet\": all-mpnet-base-v2)")
        }
        let known = architecture == .mpnet ? Self.mpnetArchitectures : Self.bertArchitectures
        if let architectures = json["architectures"] as? [String], let other = architectures.first(where: { !known.contains($0) }) {
            throw ModelError(.unsupportedModel, "config.json: architecture \(other) is not supported (only \(known.sorted().joined(separator: ", ")))")
        }
        if let act = json["hidden_act"] as? String, act != "gelu" {
            throw ModelError(.unsupportedModel, "config.json: hidden_act \"\(act)\" is not supported (only exact-erf \"gelu\")")
        }
        if let kind = json["position_embedding_type"] as? String, kind != "absolute" {
            throw ModelError(.unsupportedModel, "config.json: position_embedding_type \"\(kind)\" is not supported (only \"absolute\")")
        }
        if json["rope_theta"] != nil || json["rotary_emb_base"] != nil {
            throw ModelError(.unsupportedModel, "config.json: rotary position embeddings are not supported (only absolute positions)")
        }
        return architecture
    }

    /// The sequence limit sentence-transformers applies: sentence_bert_config.json's max_seq_length,
    /// else the tokenizer's model_max_length; never more than the position table or 512.
    static func maxSequenceLength(directory: String, maxPositions: Int) throws -> Int {
        let sbert = try JSONFile.object(directory + "/sentence_bert_config.json")
        let tokenizer = try JSONFile.object(directory + "/tokenizer_config.json")
        let limit = min(maxPositions, Self.maxSupportedTokens)
        let asked = (sbert?["max_seq_length"] as? Int) ?? (tokenizer?["model_max_length"] as? Int).map { min($0, limit) } ?? limit
        guard asked >= 2, asked <= limit else {
            throw ModelError(.unsupportedModel, "max_seq_length \(asked) is outside 2...\(limit) (the position table has \(maxPositions) rows; "
                             + "embcache serves up to \(Self.maxSupportedTokens) tokens)")
        }
        return asked
    }
}
