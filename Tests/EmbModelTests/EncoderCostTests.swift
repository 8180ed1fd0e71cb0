import EmbModel
import Testing

/// The multiply-add count `embcache bench encoder` divides by time (BertConfig.multiplyAdds).
@Suite struct EncoderCostTests {
    /// A tiny shape counted by hand, matrix by matrix: hidden 4, 2 heads of 2, FFN 8, 2 layers, 3 tokens.
    @Test func aTinyShapeMatchesAHandCount() {
        var config = BertConfig.miniLML6
        (config.hiddenSize, config.headCount, config.intermediateSize, config.layerCount) = (4, 2, 8, 2)
        let t = 3
        let qkv = t * 4 * 12  // (3 × 4) · (4 × 12): 144
        let attentionOutput = t * 4 * 4  // 48
        let ffnIn = t * 4 * 8  // 96
        let ffnOut = t * 8 * 4  // 96
        let scores = 2 * (t * 2 * t)  // per head Q (3 × 2) · Kᵀ (2 × 3): 18, two heads: 36
        let context = 2 * (t * t * 2)  // per head P (3 × 3) · V (3 × 2): 18, two heads: 36
        let perLayer = qkv + attentionOutput + ffnIn + ffnOut + scores + context  // 456
        #expect(perLayer == 456)
        #expect(config.multiplyAdds(tokens: t) == 2 * perLayer)
    }

    /// all-MiniLM-L6-v2: 10.6 M per token in the dense layers plus 4,608·t² in attention (issue 19's figures).
    @Test func miniLMCostsWhatTheIssueSays() {
        let config = BertConfig.miniLML6
        #expect(config.multiplyAdds(tokens: 1) == 10_616_832 + 4_608)
        #expect(config.multiplyAdds(tokens: 119) == 119 * 10_616_832 + 4_608 * 119 * 119)
    }
}

extension EncoderCostTests {
    /// The peak runs on the encoder's threads and yields a rate (its size is a benchmark's business).
    @Test func thePeakIsMeasuredOnTheEncodersThreads() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let peak = encoder.measurePeak(seconds: 0.05)
        #expect(peak > 0 && peak.isFinite, "peak \(peak)")
        // Still an encoder afterwards: the pool's workers went back to waiting for steps.
        #expect(encoder.embed([[101, 102]])[0].count == encoder.config.hiddenSize)
    }

    /// measurePeak and embed on one encoder from two threads at once: each holds the pool alone for its
    /// steps (before, the second step replaced the first's job and the process died in WorkerPool.run).
    @Test func thePeakAndPassesMayBeAskedForAtOnce() async throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let ids: [Int32] = [101] + [Int32](repeating: 2023, count: 100) + [102]
        let expected = encoder.embed([ids])
        async let peak = Task.detached { encoder.measurePeak(seconds: 0.3) }.value
        var passes = 0
        let start = ContinuousClock.now
        while passes < 200 && ContinuousClock.now - start < .seconds(2) {
            #expect(encoder.embed([ids]) == expected)
            passes += 1
        }
        #expect(await peak > 0)
        #expect(passes > 0)
    }
}
