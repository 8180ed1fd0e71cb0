import EmbModel
import Testing

/// A pass split over threads (a few rows: GEMM columns, rows of element-wise work and attention items
/// dealt in turn; 64 rows or more: rows, BertEncoder+Forward) gives every text the same vector, bit
/// for bit, as one thread's pass: the split moves work between cores, never the arithmetic of an element.
@Suite(.serialized) struct EncoderThreadSplitTests {
    /// Short texts, alone and three together (39 rows: below the row split and the sub-batches), and
    /// one long text alone (row split).
    static func passes() throws -> [[[Int32]]] {
        let ids = try TestData.references().map(\.input_ids)
        let short = ids.filter { $0.count <= 13 }
        let long = try #require(ids.first { $0.count >= 100 })
        try #require(short.count >= 4)
        return [[short[0]], [short[1]], Array(short[1...3]), [long]]
    }

    @Test(arguments: [BertEncoder.Precision.int8, .float32], [2, 3, 5])
    func aPassSplitOverThreadsEqualsOneThreadsPass(precision: BertEncoder.Precision, threads: Int) throws {
        // 2 threads as served; 5 divides neither the 12 heads nor the 24 panels of a 384-wide layer.
        let one = try EmbeddingModel(directory: TestData.modelDirectory, precision: precision, threads: 1).encoder
        let many = try EmbeddingModel(directory: TestData.modelDirectory, precision: precision, threads: threads).encoder
        for batch in try Self.passes() {
            #expect(many.embed(batch) == one.embed(batch), "\(batch.count) texts of \(batch.map(\.count)) tokens")
        }
    }
}
