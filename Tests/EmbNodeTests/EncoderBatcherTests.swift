// The batcher in front of the encoder (EncoderBatcher): misses submitted at once, from many tasks, are
// answered each with the vector the encoder gives its text alone, bit for bit, whatever batch they
// shared; stopping computes what was queued and refuses the rest with NodeError.busy. Real weights:
// the tiny fixture model (Tests/Fixtures/random-bert/tiny-mean-raw, loads in milliseconds).
import EmbModel
import EmbNode
import Foundation
import Testing

@Suite struct EncoderBatcherTests {
    static let modelDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/random-bert/tiny-mean-raw").path

    /// 48 token sequences of 3 to 140 ids ([CLS] … [SEP]), varied so batches mix lengths.
    static let texts: [[Int32]] = (0..<48).map { i in
        let length = 3 + (i * 37) % 138
        return [101] + (0..<length - 2).map { Int32(1000 + ($0 * 7 + i * 13) % 1400) } + [102]
    }

    func submitAll(_ batcher: EncoderBatcher, _ texts: [[Int32]]) async throws -> [[Float]] {
        try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, ids) in texts.enumerated() { group.addTask { (i, try await batcher.submit(ids)) } }
            var vectors = [[Float]](repeating: [], count: texts.count)
            for try await (i, vector) in group { vectors[i] = vector }
            return vectors
        }
    }

    @Test(arguments: [1, 2])
    func concurrentMissesGetTheVectorsTheyGetAloneBitForBit(threads: Int) async throws {
        let model = try EmbeddingModel(directory: Self.modelDirectory, threads: threads)
        let alone = Self.texts.map { model.encoder.embed([$0])[0] }
        let batcher = EncoderBatcher(encoder: model.encoder)
        defer { batcher.stop() }
        for burst in 1...3 {
            let vectors = try await self.submitAll(batcher, Self.texts)
            for i in Self.texts.indices { #expect(vectors[i] == alone[i], "burst \(burst), text \(i) (\(Self.texts[i].count) ids)") }
        }
        let stats = batcher.stats
        #expect(stats.texts == 3 * Self.texts.count && stats.batches >= 3 && stats.batches <= stats.texts)
        #expect(stats.tokens == 3 * Self.texts.reduce(0) { $0 + $1.count })
        #expect(stats.seconds > 0 && batcher.secondsPerToken > 0)
        #expect(batcher.depth == 0)
    }

    @Test func stopComputesWhatIsQueuedAndRefusesTheRest() async throws {
        let model = try EmbeddingModel(directory: Self.modelDirectory, threads: 2)
        let batcher = EncoderBatcher(encoder: model.encoder)
        let results = await withTaskGroup(of: (Int, Result<[Float], any Error>).self) { group in
            for (i, ids) in Self.texts.enumerated() {
                group.addTask {
                    do { return (i, .success(try await batcher.submit(ids))) } catch { return (i, .failure(error)) }
                }
                if i == Self.texts.count / 2 { batcher.stop() }
            }
            return await group.reduce(into: [(Int, Result<[Float], any Error>)]()) { $0.append($1) }
        }
        #expect(results.count == Self.texts.count)
        var computed = 0
        for (i, result) in results {
            switch result {
            case .success(let vector):
                computed += 1
                #expect(vector == model.encoder.embed([Self.texts[i]])[0], "text \(i)")
            case .failure(let error):
                #expect(error as? NodeError == .busy, "text \(i): \(error)")
            }
        }
        #expect(batcher.stats.texts == computed && batcher.depth == 0)
        await #expect(throws: NodeError.busy) { try await batcher.submit(Self.texts[0]) }
    }

    @Test func aFullQueueRefusesInsteadOfGrowing() async throws {
        let model = try EmbeddingModel(directory: Self.modelDirectory, threads: 1)
        var configuration = EncoderBatcher.Configuration()
        configuration.queueLimit = 0  // always full: every submission meets the limit
        let batcher = EncoderBatcher(encoder: model.encoder, configuration: configuration)
        defer { batcher.stop() }
        for ids in Self.texts.prefix(4) {
            await #expect(throws: NodeError.busy) { try await batcher.submit(ids) }
        }
        #expect(batcher.stats.texts == 0 && batcher.depth == 0)
    }
}
