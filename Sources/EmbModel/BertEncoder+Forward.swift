// The forward pass over a batch (shapes in comments; `rows` = total tokens of the batch).
import CEmbKernels
import Foundation

extension BertEncoder {
    /// One pass over `batch` (texts whose tokens fit the workspace), its steps split over `runner`'s
    /// threads (one thread: the whole pass on the caller, as a sub-batch runs).
    func forward(_ batch: [[Int32]], workspace ws: Workspace, runner: ParallelRunner) -> [[Float]] {
        let h = self.config.hiddenSize
        let ffn = self.config.intermediateSize
        let eps = self.config.layerNormEpsilon
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
        // MPNet: the relative position bias, once for the pass, shared by every layer.
        let longest = batch.map(\.count).max() ?? 0
        let bias: UnsafeMutablePointer<Float>? = self.relativeBias.map { table in
            let out = ws.positionBias.reserve(self.config.headCount * longest * longest)
            table.fill(out, length: longest)
            return out
        }
        if runner.threads > 1 && rows >= Self.rowSplitMinimum {
            ws.reserveParts(rows: rows, widestInput: max(h, ffn), group: Int8Scheme.group)
            let parts = runner.threads
            let rowsOf = { (part: Int) in rows * part / parts..<rows * (part + 1) / parts }
            runner.run { part in self.layers[0].qkv.forward(hidden, part: rowsOf(part), ldx: h, into: qkv, ldy: 3 * h, workspace: ws) }
            for (l, layer) in self.layers.enumerated() {
                self.attention(qkv, lengths: batch.map(\.count), offsets: offsets, bias: bias, into: context, workspace: ws, runner: runner)
                runner.run { part in
                    let r = rowsOf(part)
                    self.rowLocalSteps(layer, rows: r, hidden: hidden, context: context, sublayer: sublayer,
                                       intermediate: intermediate, workspace: ws)
                    if l + 1 < self.layers.count {
                        self.layers[l + 1].qkv.forward(hidden, part: r, ldx: h, into: qkv, ldy: 3 * h, workspace: ws)
                    }
                }
            }
        } else {
            for layer in self.layers {
                layer.qkv.forward(hidden, rows: rows, ldx: h, into: qkv, ldy: 3 * h, workspace: ws, runner: runner)
                self.attention(qkv, lengths: batch.map(\.count), offsets: offsets, bias: bias, into: context, workspace: ws, runner: runner)
                layer.attentionOutput.forward(context, rows: rows, ldx: h, into: sublayer, ldy: h, workspace: ws, runner: runner)
                runner.forRanges(rows) { r in
                    let at = r.lowerBound * h
                    embk_add_layernorm(sublayer + at, hidden + at, hidden + at, Int32(r.count), Int32(h),
                                       layer.attentionNorm.gamma, layer.attentionNorm.beta, eps)
                }
                layer.intermediate.forward(hidden, rows: rows, ldx: h, into: intermediate, ldy: ffn, workspace: ws, runner: runner)
                layer.output.forward(intermediate, rows: rows, ldx: ffn, input: .gelu, into: sublayer, ldy: h, workspace: ws, runner: runner)
                runner.forRanges(rows) { r in
                    let at = r.lowerBound * h
                    embk_add_layernorm(sublayer + at, hidden + at, hidden + at, Int32(r.count), Int32(h),
                                       layer.outputNorm.gamma, layer.outputNorm.beta, eps)
                }
            }
        }
        return zip(batch, offsets).map { ids, offset in self.config.pooling.pool(hidden + offset * h, count: ids.count, width: h) }
    }

    /// Token rows from which a pass splits rows, not columns, over the threads. Every step but
    /// attention is row-local, so with rows split a thread runs a layer's attention output, LayerNorm,
    /// FFN, LayerNorm and the next layer's QKV on its own rows with no hand-off: 2 steps a layer
    /// instead of 12, and the rows stay in the thread's cache. The price is that each thread reads
    /// all of a layer's weights instead of half; at a few rows that reading is most of the work, so
    /// short passes keep splitting columns.
    static let rowSplitMinimum = 64

    /// A layer after attention, on the rows `r` only (rows of every buffer, as in `forward`).
    private func rowLocalSteps(_ layer: TransformerLayer, rows r: Range<Int>, hidden: UnsafeMutablePointer<Float>,
                               context: UnsafeMutablePointer<Float>, sublayer: UnsafeMutablePointer<Float>,
                               intermediate: UnsafeMutablePointer<Float>, workspace ws: Workspace) {
        guard !r.isEmpty else { return }
        let (h, ffn, eps) = (self.config.hiddenSize, self.config.intermediateSize, self.config.layerNormEpsilon)
        let at = r.lowerBound * h
        layer.attentionOutput.forward(context, part: r, ldx: h, into: sublayer, ldy: h, workspace: ws)
        embk_add_layernorm(sublayer + at, hidden + at, hidden + at, Int32(r.count), Int32(h),
                           layer.attentionNorm.gamma, layer.attentionNorm.beta, eps)
        layer.intermediate.forward(hidden, part: r, ldx: h, into: intermediate, ldy: ffn, workspace: ws)
        layer.output.forward(intermediate, part: r, ldx: ffn, input: .gelu, into: sublayer, ldy: h, workspace: ws)
        embk_add_layernorm(sublayer + at, hidden + at, hidden + at, Int32(r.count), Int32(h),
                           layer.outputNorm.gamma, layer.outputNorm.beta, eps)
    }

    /// Self-attention for every text and head: softmax(Q·Kᵀ/√d + B)·V, written per head into `context`
    /// (one fused kernel per head: embk_attention_q8 for int8, embk_attention for float32). B is MPNet's relative position bias ([heads][L][L]
    /// for the pass's longest text L; a text uses its top-left block), nil for BERT. Work items are
    /// (text, head) pairs, dealt to the threads in turn.
    private func attention(_ qkv: UnsafeMutablePointer<Float>, lengths: [Int], offsets: [Int], bias: UnsafeMutablePointer<Float>?,
                           into context: UnsafeMutablePointer<Float>, workspace ws: Workspace, runner: ParallelRunner) {
        let h = self.config.hiddenSize
        let d = self.config.headSize
        let heads = self.config.headCount
        let maxLength = lengths.max() ?? 0
        // int8: QKᵀ and P·V on int8 operands (scheme v3), on the int8 path's kernel; float32: the
        // float kernel on the float kernels' path, as embk_sgemm_nn and the others pick it.
        let int8 = self.precision == .int8
        precondition(!int8 || maxLength <= Int(EMBK_ATTENTION_Q8_MAX_TOKENS), "embk_attention_q8 takes at most 512 tokens")
        let kernel = int8 ? embk_attention_q8 : embk_attention
        let path = int8 ? self.kernelPath : embk_best_path()
        let scratchFloats = int8 ? embk_attention_q8_scratch(Int32(maxLength), Int32(d)) : embk_attention_scratch(Int32(maxLength), Int32(d))
        let scratch = ws.attentionScratch(threads: runner.threads).map { $0.reserve(scratchFloats) }
        let scale = 1 / Float(d).squareRoot()
        let items = lengths.count * heads
        runner.run { part in
            var item = part
            while item < items {
                let (text, head) = item.quotientAndRemainder(dividingBy: heads)
                let rows = qkv + offsets[text] * 3 * h
                kernel(path, Int32(lengths[text]), Int32(d), scale, rows + head * d, rows + h + head * d,
                       rows + 2 * h + head * d, Int32(3 * h), bias.map { UnsafePointer($0 + head * maxLength * maxLength) },
                       Int32(maxLength), context + offsets[text] * h + head * d, Int32(h), scratch[part])
                item += runner.threads
            }
        }
    }
}
