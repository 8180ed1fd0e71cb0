// INFO callers and INFO savings: the node's snapshot in Redis INFO style (Docs/protocol.md).
//
// callers: one line per caller since start, keyspace style (`caller_<name>:requests=…,texts=…`),
// the peers' pseudo-caller included (texts other nodes forwarded here, counted for their callers
// where they asked). savings: the node's figures per window without the peers' line, the prices
// used, and the overlap between callers as this node's sample sees it.
import EmbNode
import Foundation

enum SavingsInfo {
    static func callers(_ s: SavingsSnapshot) -> [(String, Any)] {
        let figures = s.figures(.total)
        return s.callers.map { c in
            let f = figures[c.name] ?? SavingsFigures()
            let t = c.windows[SavingsWindow.total.rawValue] ?? Tally()
            let tiers = Tier.allCases.map { "\($0.rawValue)=\(t.texts[$0])" }.joined(separator: ",")
            return ("caller_\(c.name)", "requests=\(f.requests),texts=\(f.texts),tokens=\(f.tokens),\(tiers),duplicates=\(f.duplicates)"
                + ",duplicate_tokens=\(f.duplicateTokens),duplicate_share=\(fmt(f.duplicateShare, 4)),encoder_seconds=\(fmt(f.spentSeconds, 6))"
                + ",saved_seconds=\(fmt(f.savedSeconds, 6)),saved_api=\(fmt(f.savedMoneyAPI, 6)),saved_cpu=\(fmt(f.savedMoneyCPU, 6))")
        }
    }

    static func savings(_ s: SavingsSnapshot) -> [(String, Any)] {
        var out: [(String, Any)] = [
            ("model", s.model), ("currency", s.prices.currency), ("price_per_1m_tokens", s.prices.perMillionTokens),
            ("price_per_cpu_hour", s.prices.perCPUHour), ("seconds_per_token", fmt(s.encoder.secondsPerToken, 9)),
            ("encoder_threads", s.encoder.threads),
        ]
        for w in SavingsWindow.allCases {
            var f = SavingsFigures()
            for (name, g) in s.figures(w) where name != SavingsLedger.peersName { f.add(g) }
            let x = w.rawValue
            out += [
                ("requests_\(x)", f.requests), ("texts_\(x)", f.texts), ("tokens_\(x)", f.tokens), ("duplicates_\(x)", f.duplicates),
                ("duplicate_share_\(x)", fmt(f.duplicateShare, 4)), ("encoder_seconds_\(x)", fmt(f.spentSeconds, 6)),
                ("saved_seconds_\(x)", fmt(f.savedSeconds, 6)), ("saved_cpu_hours_\(x)", fmt(f.savedCPUHours, 6)),
                ("saved_api_\(x)", fmt(f.savedMoneyAPI, 6)), ("saved_cpu_\(x)", fmt(f.savedMoneyCPU, 6)),
            ]
        }
        let o = s.overlapEstimate
        out += [
            ("overlap_sketch", "hash-sampled key set, capacity \(s.overlap.capacity), level \(o.level) (p=1/\(1 << o.level))"),
            ("overlap_distinct_keys", fmt(o.distinctKeys, 0)), ("overlap_multi_caller_keys", fmt(o.multiCallerKeys, 0)),
            ("overlap_relative_error", fmt(o.multiCallerRelativeError, 4)),
        ]
        for (i, p) in o.pairs.enumerated() { out.append(("overlap_pair_\(i)", "\(p.a),\(p.b),\(fmt(p.keys, 0))")) }
        for w in [SavingsWindow.minute, .hour, .day] {
            out.append(("overlap_multi_caller_keys_\(w.rawValue)", fmt(s.overlapEstimate(w).multiCallerKeys, 0)))
        }
        return out
    }

    static func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
}
