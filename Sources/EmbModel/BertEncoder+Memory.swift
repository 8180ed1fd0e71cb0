// What a loaded model holds in memory, for INFO and the memory budget of a node serving several
// models: the packed int8 dense layers (with their scales and column sums), the int8 word table,
// and the float32 positions, biases and LayerNorms.

extension BertEncoder {
    /// Bytes of the weights as served (not the file's size: int8 is about a quarter of it).
    public var weightBytes: Int {
        let h = self.config.hiddenSize
        let biases = self.denseLayers.reduce(0) { $0 + $1.outputs * 4 }
        let dense = self.denseWeightBytes + biases
        let norms = self.layers.count * 2 * 2 * h * 4
        let e = self.embeddings
        let embeddings = e.wordsInt8.count + 4 * (e.wordScales.count + e.wordsFloat.count + e.positions.count + 2 * h)
        return dense + norms + embeddings
    }

    /// Bytes of every dense layer's weights, as the GEMMs read them: what a batch-1 pass streams from
    /// memory when the model does not fit in the last-level cache (`embcache bench encoder` divides
    /// texts/s × this by the machine's measured read bandwidth). all-MiniLM-L6-v2 int8: 11.3 MB; 768x12: 90 MB.
    public var denseWeightBytes: Int { self.denseLayers.reduce(0) { $0 + $1.weightBytes } }

    /// The four dense layers of every transformer layer.
    private var denseLayers: [any LinearLayer] {
        self.layers.flatMap { [$0.qkv, $0.attentionOutput, $0.intermediate, $0.output] }
    }
}
