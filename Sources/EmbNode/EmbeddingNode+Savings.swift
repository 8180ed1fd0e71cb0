// The node's side of the savings ledger: what the lookup path charges to a caller, the seconds per
// token a duplicate is valued at, and the calibration that values hits before anything is computed.
import EmbHash
import EmbModel
import Foundation

extension EmbeddingNode {
    /// The running mean encoder seconds per token: measured on this node's batches since start, or
    /// the start-up calibration while none has run.
    public var secondsPerToken: Double {
        let measured = self.batcher.secondsPerToken
        return measured > 0 ? measured : self.calibratedSecondsPerToken
    }

    /// Charges a request's answers to `account`: tiers, tokens, encoder time, and the duplicates'
    /// saved seconds; notes its keys in the overlap sample.
    func account(_ answers: [Answer], keys: [CacheKey], tokens: [Int], to account: CallerAccount) {
        var tally = Tally()
        for (i, a) in answers.enumerated() {
            tally.add(a.tier, texts: 1, tokens: tokens[i])
            tally.encoderSeconds += a.encoderSeconds
            if a.ownerComputed {
                tally.ownerComputedTexts += 1
                tally.ownerComputedTokens += tokens[i]
            }
        }
        tally.savedSeconds = Double(tally.duplicateTokens) * self.secondsPerToken
        let now = self.clock()
        account.record(tally, now: now)
        self.savings.overlap.note(keys, caller: account.bit, minute: OverlapSample.minute(now))
    }

    /// Encoder seconds per token on this machine, measured once at start outside the batcher (so its
    /// figures stay those of real requests): two passes over a small batch, the second one timed.
    static func calibrate(_ encoder: BertEncoder) -> Double {
        // 16 ids, 8 times: the size of a short real text (ids taken inside any vocabulary).
        let v = Int32(encoder.config.vocabularySize)
        let batch = [[Int32]](repeating: (0..<16).map { (2000 + Int32($0)) % v }, count: 8)
        _ = encoder.embed(batch)
        let start = DispatchTime.now().uptimeNanoseconds
        _ = encoder.embed(batch)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return seconds / Double(batch.count * 16)
    }
}
