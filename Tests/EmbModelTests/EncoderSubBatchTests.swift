import EmbModel
import Foundation
import Testing

/// Sub-batches (BertEncoder+SubBatches): a batch dealt out one sub-batch per thread gives every text
/// the very vector it gets alone, and the deal covers the batch, balanced, or is not made.
@Suite(.serialized) struct EncoderSubBatchTests {
    @Test func aDealtBatchGivesEveryTextItsVectorAloneBitForBit() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let refs = try TestData.references()
        // Long and short texts mixed, 40 of them: dealt out at two threads (checked below).
        let ids = stride(from: 0, to: refs.count, by: refs.count / 40).prefix(40).map { refs[$0].input_ids }
        try #require(encoder.threads == 2 && encoder.subBatches(of: ids) != nil)
        let batched = encoder.embed(ids)
        #expect(batched.count == ids.count)
        for (i, text) in ids.enumerated() {
            #expect(encoder.embed([text])[0] == batched[i], "text \(i) (\(text.count) tokens)")
        }
        // And in another order: each vector follows its text.
        let reversed = encoder.embed(ids.reversed())
        #expect(Array(reversed.reversed()) == batched)
    }

    @Test func theDealCoversTheBatchOnceAndBalancesItsWork() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let ids = try TestData.references().prefix(33).map(\.input_ids)
        let deal = try #require(encoder.subBatches(of: ids))
        #expect(deal.count == encoder.threads)
        #expect(deal.flatMap { $0 }.sorted() == Array(ids.indices))
        #expect(deal.allSatisfy { $0 == $0.sorted() })
        let work = deal.map { $0.reduce(0) { $0 + encoder.config.multiplyAdds(tokens: ids[$1].count) } }
        #expect(Double(work.max()!) <= 0.6 * Double(work.reduce(0, +)), "\(work)")
        // Four short texts of 13 tokens (52 rows): two each.
        let short = [[Int32]](repeating: [101] + [Int32](repeating: 2023, count: 11) + [102], count: 4)
        #expect(encoder.subBatches(of: short)?.map(\.count) == [2, 2])
    }

    @Test func aThreadsShareOfAPassKeepsItsFFNActivationsInL2() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        // 1 MiB of 1536-float rows: 170 rows, so one long text (~120 tokens) per pass.
        #expect(encoder.threadPassRows == 170)
        #expect(encoder.threadPassRows * encoder.config.intermediateSize * 4 <= BertEncoder.threadPassBytes)
    }

    @Test func smallOrLopsidedBatchesRunAsOnePass() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let text = { (n: Int) in [101] + [Int32](repeating: 2023, count: n - 2) + [102] }
        #expect(encoder.subBatches(of: [text(200)]) == nil)  // one text
        #expect(encoder.subBatches(of: [text(13), text(13), text(13)]) == nil)  // 39 rows
        #expect(encoder.subBatches(of: [text(250), text(13), text(13), text(13)]) == nil)  // one text is most of the work
        let single = try EmbeddingModel(directory: TestData.modelDirectory, precision: .int8, threads: 1)
        #expect(single.encoder.subBatches(of: [text(100), text(100)]) == nil)  // one thread
    }
}
