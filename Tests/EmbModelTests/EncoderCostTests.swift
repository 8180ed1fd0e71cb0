import EmbModel
import Foundation
import Synchronization
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

    /// The peak loop and forward passes share the pool: measured while another thread embeds, both
    /// finish and the vectors are those of the encoder alone. (Before the peak took the encoder's lock,
    /// the two callers' steps interleaved and the test process died: "non-escaping closure has escaped".)
    @Test func thePeakWaitsForForwardPassesOnTheSamePool() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let ids: [[Int32]] = [[101, 7592, 2088, 102], [101, 2023, 2003, 1037, 3231, 1012, 102]]
        let alone = encoder.embed(ids)
        let done = DispatchSemaphore(value: 0)
        let mismatches = Mutex<Int>(0)
        let rounds = Mutex<Int>(0)
        let embedder = Thread {
            let end = DispatchTime.now().uptimeNanoseconds + 300_000_000
            while DispatchTime.now().uptimeNanoseconds < end {
                let vectors = encoder.embed(ids)
                mismatches.withLock { $0 += vectors == alone ? 0 : 1 }
                rounds.withLock { $0 += 1 }
            }
            done.signal()
        }
        embedder.start()
        var peaks: [Double] = []
        for _ in 0..<10 { peaks.append(encoder.measurePeak(seconds: 0.02)) }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(peaks.allSatisfy { $0 > 0 && $0.isFinite }, "\(peaks)")
        #expect(rounds.withLock { $0 } > 0)
        #expect(mismatches.withLock { $0 } == 0)
    }
}

extension EncoderCostTests {
    /// The bandwidth loop runs on the encoder's threads and yields a rate; the encoder still embeds.
    @Test func theReadBandwidthIsMeasuredOnTheEncodersThreads() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let bandwidth = encoder.measureBandwidth(megabytes: 8, seconds: 0.05)
        #expect(bandwidth > 0 && bandwidth.isFinite, "bandwidth \(bandwidth)")
        #expect(encoder.embed([[101, 102]])[0].count == encoder.config.hiddenSize)
    }

    /// The weights a batch-1 pass streams: all-MiniLM-L6-v2's 6 × (4·384² + 2·384·1536) int8 weights,
    /// plus per quantization group a column sum and a scale (8 bytes per group), plus headers and padding.
    @Test func miniLMsPackedWeightsAreItsInt8WeightsAndGroupData() throws {
        let encoder = try EncoderAccuracyTests.int8.get().encoder
        let weights = 6 * (4 * 384 * 384 + 2 * 384 * 1536)  // 10,616,832
        let withGroups = weights + weights / Int8Scheme.group * 8
        #expect(encoder.denseWeightBytes >= withGroups)
        #expect(Double(encoder.denseWeightBytes) <= 1.01 * Double(withGroups), "\(encoder.denseWeightBytes)")
    }
}
