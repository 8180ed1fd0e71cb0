// The input layer: word embedding (int8 with one scale per row in the int8 model, 11.7 MB instead of
// 46.9 MB) + absolute position embedding + token-type-0 embedding, then LayerNorm. MPNet has no token
// types and counts positions from its padding id + 1, skipping padding ids (MPNet.swift).
import CEmbKernels

struct Embeddings: Sendable {
    let hidden: Int
    /// int8 rows and their scales (int8 model), or float32 rows (reference).
    let wordsInt8: [Int8]
    let wordScales: [Float]
    let wordsFloat: [Float]
    /// BERT: positions 0..<maxTokens, with the token-type-0 row already added (it is the same for every
    /// token). MPNet: the whole position table.
    let positions: [Float]
    /// MPNet: the padding id its positions count from; nil for BERT (positions 0, 1, 2, ...).
    let paddingID: Int32?
    let norm: LayerNormWeights

    init(_ weights: ModelWeights, config: BertConfig, precision: BertEncoder.Precision) throws {
        let h = config.hiddenSize
        let v = config.vocabularySize
        let words = try weights.float32("embeddings.word_embeddings.weight", shape: [v, h])
        if precision == .int8 {
            var q = [Int8](repeating: 0, count: v * h)
            var s = [Float](repeating: 0, count: v)
            embk_quantize_weights(words.baseAddress, Int32(v), Int32(h), Int32(h), &q, &s)
            self.wordsInt8 = q
            self.wordScales = s
            self.wordsFloat = []
        } else {
            self.wordsInt8 = []
            self.wordScales = []
            self.wordsFloat = Array(words)
        }
        weights.releasePages(of: "embeddings.word_embeddings.weight")
        let positions = try weights.float32("embeddings.position_embeddings.weight", shape: [config.maxPositions, h])
        if config.architecture == .mpnet {
            self.positions = Array(positions)
            self.paddingID = Int32(config.paddingID)
        } else {
            let types = try weights.float32("embeddings.token_type_embeddings.weight", shape: [config.typeVocabularySize, h])
            self.positions = (0..<config.maxTokens * h).map { positions[$0] + types[$0 % h] }
            self.paddingID = nil
        }
        self.norm = try LayerNormWeights(weights, "embeddings.LayerNorm", width: h)
        self.hidden = h
    }

    /// Writes LayerNorm(word + position + type) of `ids` (positions from 0; MPNet: see `paddingID`) into rows of `out`.
    func embed(_ ids: [Int32], into out: UnsafeMutablePointer<Float>, epsilon: Float) {
        let h = self.hidden
        var counted = 0  // MPNet: non-padding ids so far
        for (t, id) in ids.enumerated() {
            let row = out + t * h
            let word = Int(id) * h
            var position = t
            if let pad = self.paddingID {
                if id != pad { counted += 1 }
                position = Int(pad) + (id == pad ? 0 : counted)
            }
            let positionRow = position * h
            if self.wordsInt8.isEmpty {
                for i in 0..<h { row[i] = self.wordsFloat[word + i] + self.positions[positionRow + i] }
            } else {
                let scale = self.wordScales[Int(id)]
                for i in 0..<h { row[i] = Float(self.wordsInt8[word + i]) * scale + self.positions[positionRow + i] }
            }
        }
        embk_add_layernorm(out, nil, out, Int32(ids.count), Int32(h), self.norm.gamma, self.norm.beta, epsilon)
    }
}
