// GET / on every node's HTTP port: the whole cluster's waste on one page (issue 9). Plain HTML with
// SVG drawn here (DashboardSVG), refreshing itself every 5 s; it asks the peers for their snapshots
// (ServerContext.clusterSavings), so any node shows the same page. Every figure also carries its
// exact value in `data-k`/`data-v` attributes: the browser test reads them and compares them with
// `embcache report --json`.
import EmbNode
import Foundation

enum Dashboard {
    static func render(_ c: ClusterSavings, node: String) -> String {
        let total = c.windows[SavingsWindow.total.rawValue]?.total ?? SavingsFigures()
        let hour = c.windows[SavingsWindow.hour.rawValue]?.total ?? SavingsFigures()
        let callers = (c.windows[SavingsWindow.total.rawValue]?.callers ?? [:]).sorted { ($0.value.texts, $1.key) > ($1.value.texts, $0.key) }
        let cur = c.prices.currency
        var h = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <meta name="viewport" content="width=device-width, initial-scale=1"><title>embcache: the waste, made visible</title>
            <style>\(Self.style)</style></head><body>
            <header><h1>embcache <span>duplicate embeddings, and what the cache saved</span></h1>
            <p class="sub">\(c.nodes.count) node\(c.nodes.count == 1 ? "" : "s") · page from \(esc(node)) · \(Self.clock(c.time)) UTC · refreshes every 5 s</p></header>
            <section class="cards">
            """
        h += Self.card("Duplicate share", Self.pct(total.duplicateShare), "\(Self.int(total.duplicates)) of \(Self.int(total.texts)) texts were already computed",
                       key: "total.duplicate_share", value: total.duplicateShare, accent: "#2e7d32")
        h += Self.card("Compute saved", Self.seconds(total.savedSeconds), String(format: "%.4f CPU-hours · spent %@", total.savedCPUHours, Self.seconds(total.spentSeconds)),
                       key: "total.saved_seconds", value: total.savedSeconds, accent: "#0288d1")
        h += Self.card("Saved vs. a hosted API", Self.money(total.savedMoneyAPI, cur), "at \(Self.money(c.prices.perMillionTokens, cur)) per 1M tokens · \(Self.int(total.duplicateTokens)) tokens",
                       key: "total.saved_api", value: total.savedMoneyAPI, accent: "#7e57c2")
        h += Self.card("Saved on our CPUs", Self.money(total.savedMoneyCPU, cur), "at \(Self.money(c.prices.perCPUHour, cur)) per CPU-hour",
                       key: "total.saved_cpu", value: total.savedMoneyCPU, accent: "#f9a825")
        h += Self.card("Last hour", Self.pct(hour.duplicateShare) + " dup", "\(Self.int(hour.texts)) texts · saved \(Self.seconds(hour.savedSeconds)), \(Self.money(hour.savedMoneyAPI, cur)) API",
                       key: "hour.duplicate_share", value: hour.duplicateShare, accent: "#546e7a")
        h += "</section>"

        h += "<section class=\"grid\"><div class=\"panel\"><h2>Answers by tier, last 60 seconds</h2>"
        h += DashboardSVG.stackedBars(c.perSecond) { i in i % 10 == 9 ? (i == 59 ? "now" : "-\(59 - i)s") : nil }
        h += "<div class=\"legend\">\(DashboardSVG.legend())</div></div>"
        h += "<div class=\"panel\"><h2>Answers by tier, last 60 minutes</h2>"
        h += DashboardSVG.stackedBars(c.perMinute) { i in i % 10 == 9 ? (i == 59 ? "now" : "-\(59 - i)m") : nil }
        h += "<div class=\"legend\">hit ratio since start: <b data-k=\"total.hit_share\" data-v=\"\(total.hitShare)\">\(Self.pct(total.hitShare))</b>"
        h += " · " + DashboardSVG.tiers.map { "\($0.2) \(Self.int(total.byTier[$0.0]))" }.joined(separator: " · ") + "</div></div></section>"

        h += "<section class=\"panel\"><h2>Callers, since start</h2><table><thead><tr><th>caller</th><th class=n>requests</th><th class=n>texts</th>"
        h += "<th class=n>tokens</th><th>duplicate share</th><th>answered by</th><th class=n>compute spent</th><th class=n>compute saved</th>"
        h += "<th class=n>saved (API)</th><th class=n>saved (CPU)</th></tr></thead><tbody>"
        for (name, f) in callers {
            let k = "caller." + name
            h += "<tr><td class=caller>\(esc(name))</td>"
            h += "<td class=n data-k=\"\(esc(k)).requests\" data-v=\"\(f.requests)\">\(Self.int(f.requests))</td>"
            h += "<td class=n data-k=\"\(esc(k)).texts\" data-v=\"\(f.texts)\">\(Self.int(f.texts))</td>"
            h += "<td class=n>\(Self.int(f.tokens))</td>"
            h += "<td><span class=bar>\(DashboardSVG.shareBar(f.duplicateShare))</span> <span data-k=\"\(esc(k)).duplicates\" data-v=\"\(f.duplicates)\">\(Self.pct(f.duplicateShare))</span></td>"
            h += "<td>\(DashboardSVG.mixBar(f.byTier))</td>"
            h += "<td class=n>\(Self.seconds(f.spentSeconds))</td><td class=n data-k=\"\(esc(k)).saved_seconds\" data-v=\"\(f.savedSeconds)\">\(Self.seconds(f.savedSeconds))</td>"
            h += "<td class=n data-k=\"\(esc(k)).saved_api\" data-v=\"\(f.savedMoneyAPI)\">\(Self.money(f.savedMoneyAPI, cur))</td>"
            h += "<td class=n>\(Self.money(f.savedMoneyCPU, cur))</td></tr>"
        }
        if callers.isEmpty { h += "<tr><td colspan=10 class=empty>no requests yet</td></tr>" }
        h += "</tbody></table></section>"

        let o = c.overlap
        h += "<section class=\"grid\"><div class=\"panel\"><h2>Overlap between callers</h2>"
        h += "<p class=big><b data-k=\"overlap.multi_caller_keys\" data-v=\"\(o.multiCallerKeys)\">\(Self.int(Int(o.multiCallerKeys.rounded())))</b> of "
        h += "\(Self.int(Int(o.distinctKeys.rounded()))) distinct texts were asked by two or more callers"
        h += o.level == 0 ? " (exact)" : String(format: " (±%.1f%%, sampled 1 in %d)", 100 * o.multiCallerRelativeError, 1 << o.level)
        h += "</p>"
        if let lastHour = c.overlapWindows[SavingsWindow.hour.rawValue], let lastMinute = c.overlapWindows[SavingsWindow.minute.rawValue] {
            h += "<p class=small>in the last hour: <b data-k=\"overlap.multi_caller_keys_1h\" data-v=\"\(lastHour.multiCallerKeys)\">"
            h += "\(Self.int(Int(lastHour.multiCallerKeys.rounded())))</b> · in the last minute: \(Self.int(Int(lastMinute.multiCallerKeys.rounded())))</p>"
        }
        h += "<table><thead><tr><th>callers</th><th class=n>shared texts</th><th></th></tr></thead><tbody>"
        let top = o.pairs.first?.keys ?? 1
        for p in o.pairs {
            h += "<tr><td>\(esc(p.a)) &amp; \(esc(p.b))</td><td class=n data-k=\"pair.\(esc(p.a)).\(esc(p.b))\" data-v=\"\(p.keys)\">\(Self.int(Int(p.keys.rounded())))</td>"
            h += "<td>\(DashboardSVG.shareBar(p.keys / max(1, top), colour: "#7e57c2"))</td></tr>"
        }
        if o.pairs.isEmpty { h += "<tr><td colspan=3 class=empty>no text asked by two callers yet</td></tr>" }
        h += "</tbody></table></div>"

        h += "<div class=\"panel\"><h2>Nodes and Redis</h2><table><thead><tr><th>node</th><th>state</th><th>Redis</th>"
        h += "<th class=n>L1 entries</th><th class=n>encoder queue</th><th class=n>peer model mismatches</th><th class=n>uptime</th></tr></thead><tbody>"
        for id in c.nodes.sorted() {
            guard let n = c.health[id] else { continue }
            let redis = n.l2Enabled ? (n.l2Up ? "<span class=ok>up</span>" : "<span class=bad>down</span>") : "<span class=muted>none</span>"
            h += "<tr><td>\(esc(id))</td><td><span class=ok>up</span></td><td>\(redis)</td><td class=n>\(Self.int(n.l1Entries))</td>"
            h += "<td class=n>\(n.encoderQueue)</td><td class=n data-k=\"mismatch.\(esc(id))\" data-v=\"\(n.peerModelMismatch ?? 0)\">"
            h += "\(n.peerModelMismatch.map { Self.int($0) } ?? "-")</td><td class=n>\(Self.duration(n.uptimeSeconds))</td></tr>"
        }
        for id in c.unreachable { h += "<tr><td>\(esc(id))</td><td><span class=bad>unreachable</span></td><td></td><td></td><td></td><td></td><td></td></tr>" }
        h += "</tbody></table><p class=note>Encoder: \(Self.seconds(c.encoderSeconds)) for \(Self.int(c.encoderTokens)) tokens across the cluster.</p></div></section>"

        h += "<footer>A <b>duplicate</b> is a text nobody had to compute for the request: answered from L1, the hot cache, Redis, "
        h += "a computation in flight, or an owner node's cache. <b>Compute saved</b> = each duplicate's tokens × the node's running mean "
        h += "encoder seconds per token; CPU-hours = seconds × encoder threads. Prices from the cluster file's <code>savings:</code> section: "
        h += "\(Self.money(c.prices.perMillionTokens, cur)) per 1M tokens (hosted API), \(Self.money(c.prices.perCPUHour, cur)) per CPU-hour. "
        h += "Overlap: a hash-sampled key set per node, merged. Same figures: <code>embcache report --cluster FILE</code>, "
        h += "<code>INFO savings</code>, <code>/metrics</code>.</footer></body></html>"
        return h
    }

    static func card(_ title: String, _ big: String, _ small: String, key: String, value: Double, accent: String) -> String {
        "<div class=card style=\"border-top-color:\(accent)\"><h3>\(title)</h3><p class=big data-k=\"\(key)\" data-v=\"\(value)\">\(big)</p><p class=small>\(small)</p></div>"
    }

    static let style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:18px 24px;background:#f5f6f8;color:#1d2430}
        h1{font-size:20px;margin:0}h1 span{font-weight:400;color:#5b6472;font-size:15px;margin-left:8px}
        .sub{color:#6b7380;margin:2px 0 14px;font-size:12px}h2{font-size:14px;margin:0 0 8px;color:#333}
        h3{font-size:12px;font-weight:600;color:#5b6472;margin:0;text-transform:uppercase;letter-spacing:.04em}
        .cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:12px}
        .card{background:#fff;border-radius:8px;padding:12px 14px;border-top:4px solid #999;box-shadow:0 1px 2px rgba(0,0,0,.06)}
        .big{font-size:26px;font-weight:650;margin:4px 0 2px}.small{color:#6b7380;font-size:12px;margin:0}
        .grid{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin-bottom:12px}
        .panel{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06);margin-bottom:12px}
        .grid .panel{margin-bottom:0}.panel .big{font-size:15px;font-weight:400}.panel .big b{font-size:22px}
        table{border-collapse:collapse;width:100%}th,td{padding:5px 8px;border-bottom:1px solid #eef0f2;text-align:left;white-space:nowrap}
        th{font-size:12px;color:#6b7380;font-weight:600}.n{text-align:right;font-variant-numeric:tabular-nums}
        .caller{font-weight:600}.empty,.muted{color:#9aa1ab}.ok{color:#2e7d32;font-weight:600}.bad{color:#e53935;font-weight:600}
        .bar svg{vertical-align:middle}.legend{font-size:12px;color:#5b6472;margin-top:6px}
        .key{margin-right:12px}.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
        .ax{font-size:10px;fill:#8a919c}.note{color:#6b7380;font-size:12px;margin:8px 0 0}
        footer{color:#6b7380;font-size:12px;max-width:1100px}code{background:#eef0f2;padding:0 3px;border-radius:3px}
        """

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func int(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    static func pct(_ v: Double) -> String { String(format: "%.1f%%", 100 * v) }

    static func seconds(_ s: Double) -> String {
        if s >= 3600 { return String(format: "%.2f h", s / 3600) }
        if s >= 60 { return String(format: "%.1f min", s / 60) }
        if s >= 1 { return String(format: "%.2f s", s) }
        return String(format: "%.0f ms", s * 1000)
    }

    static func money(_ v: Double, _ currency: String) -> String {
        let symbol = currency == "USD" ? "$" : currency == "EUR" ? "€" : currency + " "
        if v == 0 { return symbol + "0" }
        return symbol + (v >= 1 ? String(format: "%.2f", v) : v >= 0.01 ? String(format: "%.3f", v) : String(format: "%.5f", v))
    }

    static func duration(_ s: Double) -> String {
        s >= 3600 ? String(format: "%.1f h", s / 3600) : s >= 60 ? String(format: "%.0f min", s / 60) : String(format: "%.0f s", s)
    }

    static func clock(_ t: Double) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}
