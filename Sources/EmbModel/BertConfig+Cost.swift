// What a forward pass costs in multiply-adds, from the model's shape: the yardstick of
// `embcache bench encoder`, which divides it by the time taken and compares it with the machine's
// measured int8 peak (BertEncoder.measurePeak).

extension BertConfig {
    /// Multiply-adds of one text of `tokens` tokens through the encoder: per layer the four dense
    /// layers (fused Q·K·V, attention output, FFN in, FFN out: 4h² + 2h·ffn per token) and attention
    /// (Q·Kᵀ and P·V: t² · head size per head each, so 2·t²·h over all heads). Embedding look-ups,
    /// LayerNorm, softmax, GELU and pooling are not multiply-adds of a matrix product and are not
    /// counted. all-MiniLM-L6-v2: 10.6 M per token plus 4,608·t² per text.
    public func multiplyAdds(tokens t: Int) -> Int {
        let (h, f) = (self.hiddenSize, self.intermediateSize)
        let linears = t * (4 * h * h + 2 * h * f)
        let attention = 2 * t * t * h
        return self.layerCount * (linears + attention)
    }
}
