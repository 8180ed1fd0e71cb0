// The forward pass over a batch (shapes in comments; `rows` = total tokens of the batch).
import CEmbKernels
import Foundation

extension BertEncoder {
    func forward(_ batch: [[Int32]], workspace ws: Workspace) -> [[Float]] {
        let h = self.config.hiddenSize
        let ffn = self.config.intermediateSize
        let eps = self.config.layerNormEpsilon
        let runner = ParallelRunner(pool: self.pool)
        var offsets: [Int] = []
        var rows = 0
        for ids in batch {
            offsets.append(rows)
            rows += ids.count
        }
        let hidden = ws.hidden.reserve(rows * h)  // (rows, h)
        let qkv = ws.qkv.reserve(rows * 3 * h)  // (rows, 3h)
        let context = ws.context.reserve(rows * h)  // (rows, h)
        let sublayer = ws.sublayer.reserve(rows * h)  // (rows, h)
        let intermediate = ws.intermediate.reserve(rows * ffn)  // (rows, ffn)

        for (ids, offset) in zip(batch, offsets) {
            self.embeddings.embed(ids, into: hidden + offset * h, epsilon: eps)
        }
        for layer in self.layers {
            layer.qkv.forward(hidden, rows: rows, ldx: h, into: qkv, ldy: 3 * h, workspace: ws, runner: runner)
            self.attention(qkv, lengths: batch.map(\.count), offsets: offsets, into: context, workspace: ws, runner: runner)
            layer.attentionOutput.forward(context, rows: rows, ldx: h, into: sublayer, ldy: h, workspace: ws, runner: runner)
            runner.forRanges(rows) { r in
                let at = r.lowerBound * h
                embk_add_layernorm(sublayer + at, hidden + at, hidden + at, Int32(r.count), Int32(h),
                                   layer.attentionNorm.gamma, layer.attentionNorm.beta, eps)
            }
            layer.intermediate.forward(hidden, rows: rows, ldx: h, into: intermediate, ldy: ffn, workspace: ws, runner: runner)
            runner.forRanges(rows) { r in embk_gelu(intermediate + r.lowerBound * ffn, r.count * ffn) }
            layer.output.forward(intermediate, rows: rows, ldx: ffn, into: sublayer, ldy: h, workspace: ws, runner: runner)
            runner.forRanges(rows) { r in
                let at = r.lowerBound * h
                embk_add_layernorm(sublayer + at, hidden + at, hidden + at, Int32(r.count), Int32(h),
                                   layer.outputNorm.gamma, layer.outputNorm.beta, eps)
            }
        }
        return zip(batch, offsets).map { ids, offset in Self.meanPoolNormalized(hidden + offset * h, rows: ids.count, width: h) }
    }

    /// Self-attention for every text and head: softmax(Q·Kᵀ/√d)·V, written per head into `context`
    /// (embk_attention: one fused kernel per head). Work items are (text, head) pairs, dealt to the
    /// threads in turn.
    private func attention(_ qkv: UnsafeMutablePointer<Float>, lengths: [Int], offsets: [Int],
                           into context: UnsafeMutablePointer<Float>, workspace ws: Workspace, runner: ParallelRunner) {
        let h = self.config.hiddenSize
        let d = self.config.headSize
        let heads = self.config.headCount
        let maxLength = lengths.max() ?? 0
        let scratch = ws.attentionScratch(threads: runner.threads).map {
            $0.reserve(embk_attention_scratch(Int32(maxLength), Int32(d)))
        }
        let scale = 1 / Float(d).squareRoot()
        let items = lengths.count * heads
        let path = embk_best_path()  // the float kernels' path, as embk_sgemm_nn and the others pick it
        runner.run { part in
            var item = part
            while item < items {
                let (text, head) = item.quotientAndRemainder(dividingBy: heads)
                let rows = qkv + offsets[text] * 3 * h
                embk_attention(path, Int32(lengths[text]), Int32(d), scale, rows + head * d, rows + h + head * d,
                               rows + 2 * h + head * d, Int32(3 * h), context + offsets[text] * h + head * d, Int32(h),
                               scratch[part])
                item += runner.threads
            }
        }
    }

    /// Mean over the text's token rows (all real tokens: there is no padding), then L2 normalization.
    static func meanPoolNormalized(_ rows: UnsafePointer<Float>, rows count: Int, width: Int) -> [Float] {
        var sum = [Double](repeating: 0, count: width)
        for r in 0..<count {
            for i in 0..<width { sum[i] += Double(rows[r * width + i]) }
        }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return sum.map { Float(norm > 0 ? $0 / norm : 0) }
    }
}
