// The savings figures on GET /metrics, written at scrape time from the ledger (so the hit path pays
// nothing for them): since-start counters per caller and model (a Prometheus server rates them to
// get any window), the prices as gauges, and the overlap estimate. Callers are the bounded label
// set of ServerContext.callerLabel plus "(peers)".
import EmbNode
import Foundation

enum SavingsMetrics {
    static func render(_ s: SavingsSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ rows: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, v) in rows { out += labels.isEmpty ? "\(name) \(v)\n" : "\(name){\(labels)} \(v)\n" }
        }
        let figures = s.figures(.total)
        let callers = s.callers.map(\.name)
        func labels(_ c: String) -> String { "caller=\"\(c)\",model=\"\(s.model)\"" }
        func rows(_ f: (SavingsFigures) -> Double) -> [(String, Double)] { callers.map { (labels($0), f(figures[$0] ?? SavingsFigures())) } }
        family("embcache_savings_requests_total", "counter", "Requests by caller.", rows { Double($0.requests) })
        var tierRows: [(String, Double)] = []
        var tokenRows: [(String, Double)] = []
        for c in s.callers {
            let t = c.windows[SavingsWindow.total.rawValue] ?? Tally()
            for tier in Tier.allCases {
                tierRows.append(("\(labels(c.name)),tier=\"\(tier.rawValue)\"", Double(t.texts[tier])))
                tokenRows.append(("\(labels(c.name)),tier=\"\(tier.rawValue)\"", Double(t.tokens[tier])))
            }
        }
        family("embcache_savings_texts_total", "counter", "Texts by caller and the tier that answered.", tierRows)
        family("embcache_savings_tokens_total", "counter", "Tokens by caller and the tier that answered.", tokenRows)
        family("embcache_savings_duplicate_texts_total", "counter", "Texts nobody computed for this request.", rows { Double($0.duplicates) })
        family("embcache_savings_duplicate_tokens_total", "counter", "Tokens of the duplicates.", rows { Double($0.duplicateTokens) })
        family("embcache_savings_spent_seconds_total", "counter", "Encoder seconds of the texts computed for the caller.", rows { $0.spentSeconds })
        family("embcache_savings_saved_seconds_total", "counter", "Encoder seconds the duplicates did not cost.", rows { $0.savedSeconds })
        let currency = s.prices.currency
        family("embcache_savings_saved_money_total", "counter", "Money the duplicates did not cost, at the prices of embcache_savings_price.",
               callers.flatMap { c -> [(String, Double)] in
                   let f = figures[c] ?? SavingsFigures()
                   return [("\(labels(c)),basis=\"api\",currency=\"\(currency)\"", f.savedMoneyAPI), ("\(labels(c)),basis=\"cpu\",currency=\"\(currency)\"", f.savedMoneyCPU)]
               })
        family("embcache_savings_price", "gauge", "Prices used: per 1M tokens of a hosted API (api), per CPU-hour (cpu).",
               [("basis=\"api\",currency=\"\(currency)\"", s.prices.perMillionTokens), ("basis=\"cpu\",currency=\"\(currency)\"", s.prices.perCPUHour)])
        family("embcache_savings_seconds_per_token", "gauge", "Running mean encoder seconds per token.", [("model=\"\(s.model)\"", s.encoder.secondsPerToken)])
        let o = s.overlapEstimate
        family("embcache_overlap_multi_caller_keys", "gauge", "Distinct keys asked by two or more callers (estimate).", [("model=\"\(s.model)\"", o.multiCallerKeys)])
        family("embcache_overlap_sample_level", "gauge", "Overlap sample level: keys are sampled with p = 2^-level.", [("", Double(o.level))])
        return out
    }
}
