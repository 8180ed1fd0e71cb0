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
        return zip(batch, offsets).map { ids, offset in self.config.pooling.pool(hidden + offset * h, count: ids.count, width: h) }
    }

    /// Self-attention for every text and head: softmax(Q·Kᵀ/√d)·V, written per head into `context`.
    /// Work items are (text, head) pairs, dealt to the threads in turn.
    private func attention(_ qkv: UnsafeMutablePointer<Float>, lengths: [Int], offsets: [Int],
                           into context: UnsafeMutablePointer<Float>, workspace ws: Workspace, runner: ParallelRunner) {
        let h = self.config.hiddenSize
        let d = self.config.headSize
        let heads = self.config.headCount
        let maxLength = lengths.max() ?? 0
        let scratch = ws.attentionScratch(threads: runner.threads).map {
            ($0.scores.reserve(maxLength * maxLength), $0.keys.reserve(d * maxLength))
        }
        let scale = 1 / Float(d).squareRoot()
        let items = lengths.count * heads
        runner.run { part in
            let (scores, keys) = scratch[part]
            var item = part
            while item < items {
                let (text, head) = item.quotientAndRemainder(dividingBy: heads)
                let t = lengths[text]
                let rows = qkv + offsets[text] * 3 * h
                let q = rows + head * d  // (t, d), stride 3h
                let k = rows + h + head * d
                let v = rows + 2 * h + head * d
                embk_transpose(k, Int32(t), Int32(d), Int32(3 * h), keys, Int32(t))  // Kᵀ: (d, t)
                embk_sgemm_nn(Int32(t), Int32(t), Int32(d), scale, q, Int32(3 * h), keys, Int32(t), scores, Int32(t), 0)
                embk_softmax_rows(scores, Int32(t), Int32(t), Int32(t))
                embk_sgemm_nn(Int32(t), Int32(d), Int32(t), 1, scores, Int32(t), v, Int32(3 * h),
                              context + offsets[text] * h + head * d, Int32(h), 0)
                item += runner.threads
            }
        }
    }
}
