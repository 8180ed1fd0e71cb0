// Sub-batches: a batch of several texts is dealt out, one sub-batch per thread, and each thread runs
// its sub-batch's whole forward pass alone, on its own workspace. A pass split over the threads
// hands off at every step (two per layer with rows split, twelve with columns split) and waits at
// each for the slower thread; side by side, the threads meet once per batch. Attention, which is
// per text, needs no split at all. Measured (Docs/benchmarks.md, issue 19): +11-12% at batch 32 on
// an Intel host, short and long texts alike; on an AMD Zen 4 host +8-12% on short texts, even on
// long ones. At a handful of short texts the sub-batches are too small for their GEMMs and one pass
// over both threads is faster, hence `subBatchMinimumRows`. Halves, not smaller chunks claimed as
// the threads go: chunks cost 7-9% in the bench and did not speed up a node (tried, issue 19).
// A text's vector does not depend on the batch it is in (BertEncoder's header), so the deal changes
// no bit of any vector; EncoderSubBatchTests checks it.

extension BertEncoder {
    /// Token rows a batch needs before it is dealt out: below it, one pass over all threads wins
    /// (paired runs: 4 short texts, ~50 rows, +10% dealt; 3 texts −8%; 2 texts even).
    static let subBatchMinimumRows = 48
    /// The largest share of the batch's work one sub-batch may get: beyond it (one long text among
    /// short ones) a thread would idle while the other finishes, and one shared pass is faster.
    static let subBatchShareLimit = 0.6

    /// How `batch` is dealt to the threads: the indices of its texts in each sub-batch, in batch order,
    /// or nil when it runs as one pass (one thread, fewer texts than threads, fewer rows than
    /// `subBatchMinimumRows`, or no deal within `subBatchShareLimit`). Longest-first onto the least
    /// loaded thread, by multiply-adds (attention grows with the square of a text's length).
    public func subBatches(of batch: [[Int32]]) -> [[Int]]? {
        let parts = self.threads
        guard parts > 1, batch.count >= parts, batch.reduce(0, { $0 + $1.count }) >= Self.subBatchMinimumRows else { return nil }
        let costs = batch.map { self.config.multiplyAdds(tokens: $0.count) }
        var deal = [[Int]](repeating: [], count: parts)
        var load = [Int](repeating: 0, count: parts)
        for text in costs.indices.sorted(by: { (costs[$0], $1) > (costs[$1], $0) }) {
            let part = load.indices.min { (load[$0], $0) < (load[$1], $1) }!
            deal[part].append(text)
            load[part] += costs[text]
        }
        guard Double(load.max()!) <= Self.subBatchShareLimit * Double(load.reduce(0, +)) else { return nil }
        return deal.map { $0.sorted() }
    }

    /// The vectors of `batch`, each sub-batch of `deal` run by one thread of the pool on its own
    /// workspace, in passes of `threadPassRows` rows.
    func embed(_ batch: [[Int32]], inParts deal: [[Int]], workspaces: [Workspace]) -> [[Float]] {
        precondition(deal.count == self.threads && workspaces.count >= deal.count)
        let rowsPerPass = self.threadPassRows
        let alone = ParallelRunner(pool: self.callerOnly)
        var vectors = [[Float]](repeating: [], count: batch.count)
        vectors.withUnsafeMutableBufferPointer { out in
            self.pool.run { part in
                let texts = deal[part].map { batch[$0] }
                let computed = self.passes(texts, rowsPerPass: rowsPerPass, workspace: workspaces[part], runner: alone)
                for (text, vector) in zip(deal[part], computed) { out[text] = vector }
            }
        }
        return vectors
    }
}
