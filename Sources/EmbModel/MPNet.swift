// What MPNet (all-mpnet-base-v2) adds to the BERT encoder, exactly as Hugging Face's MPNetModel:
// - positions count from the padding id + 1 and skip padding ids (create_position_ids_from_input_ids:
//   a literal "<pad>" in a text gets position row 1 and does not advance the count);
// - no token-type embedding;
// - a relative position bias: the distance j − i between key j and query i falls into one of 32
//   buckets (16 per direction: 8 exact distances, then log-spaced up to 128), each bucket has one
//   learned value per head (encoder.relative_attention_bias), and that [heads][t][t] table is computed
//   once per pass and added to every layer's scaled attention scores.
// HF calls compute_position_bias with its default of 32 buckets and a hard-coded max_distance of 128
// and padding index of 1, whatever config.json says; a config that says otherwise is refused rather
// than served with numbers HF would not use either.
import Foundation

extension BertConfig {
    /// The architectures config.json may name for an MPNet checkpoint.
    static let mpnetArchitectures: Set<String> = ["MPNetModel", "MPNetForMaskedLM"]
    /// Buckets of the relative position bias (MPNetEncoder.compute_position_bias's default).
    static let mpnetBuckets = 32
    /// Distances at or past this share the last bucket of their direction.
    static let mpnetMaxDistance = 128

    /// Reads and checks MPNet's settings from config.json.
    mutating func readMPNet(_ json: [String: Any]) throws {
        let buckets = (json["relative_attention_num_buckets"] as? Int) ?? Self.mpnetBuckets
        guard buckets == Self.mpnetBuckets else {
            throw ModelError(.unsupportedModel, "config.json: relative_attention_num_buckets \(buckets) is not supported "
                             + "(MPNetModel buckets with \(Self.mpnetBuckets) whatever the table's size; only \(Self.mpnetBuckets))")
        }
        if let pad = json["pad_token_id"] as? Int, pad != 1 {
            throw ModelError(.unsupportedModel, "config.json: pad_token_id \(pad) is not supported (MPNet's position ids assume padding id 1)")
        }
        if self.typeVocabularySize > 0 {
            throw ModelError(.unsupportedModel, "config.json: type_vocab_size \(self.typeVocabularySize) is not supported for MPNet (it has no token types)")
        }
        guard self.maxPositions > 2 else {
            throw ModelError(.badConfig, "config.json: max_position_embeddings \(self.maxPositions) leaves no position after the padding index")
        }
        self.relativeAttentionBuckets = buckets
        self.paddingID = 1
    }
}

/// MPNet's relative position bias.
public struct RelativePositionBias: Sendable {
    /// (buckets, heads), as stored.
    let table: [Float]
    let heads: Int

    init(_ weights: ModelWeights, config: BertConfig) throws {
        self.table = Array(try weights.float32("encoder.relative_attention_bias.weight", shape: [config.relativeAttentionBuckets, config.headCount]))
        self.heads = config.headCount
    }

    /// The bucket of key j seen from query i (MPNetEncoder.relative_position_bucket, in its float32
    /// arithmetic: log(n/8) / log(16) · 8, truncated).
    public static func bucket(query i: Int, key j: Int) -> Int {
        let half = BertConfig.mpnetBuckets / 2
        let exact = half / 2
        let n = i - j
        let base = n < 0 ? half : 0
        let distance = abs(n)
        if distance < exact { return base + distance }
        let ratio = Float(distance) / Float(exact)
        let large = Float(log(ratio)) / Float(Foundation.log(Double(BertConfig.mpnetMaxDistance) / Double(exact))) * Float(half - exact)
        return base + min(exact + Int(large), half - 1)
    }

    /// Writes the bias of a pass whose longest text has `length` tokens into `out`: [heads][length][length].
    /// A text of t tokens uses the top-left (t, t) block of its head's table (row stride `length`).
    func fill(_ out: UnsafeMutablePointer<Float>, length: Int) {
        let buckets = (0..<2 * length).map { Self.bucket(query: length, key: $0 + 1) }  // by j − i + length − 1
        for head in 0..<self.heads {
            let plane = out + head * length * length
            for i in 0..<length {
                for j in 0..<length { plane[i * length + j] = self.table[buckets[j - i + length - 1] * self.heads + head] }
            }
        }
    }
}
