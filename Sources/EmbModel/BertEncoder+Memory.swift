// What a loaded model holds in memory, for INFO and the memory budget of a node serving several
// models: the packed int8 dense layers (with their scales and column sums), the int8 word table,
// and the float32 positions, biases and LayerNorms.
import CEmbKernels

extension BertEncoder {
    /// Bytes of the weights as served (not the file's size: int8 is about a quarter of it).
    public var weightBytes: Int {
        let h = self.config.hiddenSize
        let dense = self.layers.flatMap { [$0.qkv, $0.attentionOutput, $0.intermediate, $0.output] }.reduce(0) { sum, layer in
            let weights = self.precision == .int8
                ? embk_packed_size(Int32(layer.outputs), Int32(layer.inputs), Int32(Int8Scheme.group))
                : layer.outputs * layer.inputs * 4
            return sum + weights + layer.outputs * 4
        }
        let norms = self.layers.count * 2 * 2 * h * 4
        let e = self.embeddings
        let embeddings = e.wordsInt8.count + 4 * (e.wordScales.count + e.wordsFloat.count + e.positions.count + 2 * h)
        return dense + norms + embeddings
    }
}
