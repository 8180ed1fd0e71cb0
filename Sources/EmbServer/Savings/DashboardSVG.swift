// The dashboard's charts, drawn on the server as SVG: stacked bars of texts by tier over time, and
// horizontal share bars. No script, no library, no CDN: the page is complete as sent.
import EmbNode
import Foundation

enum DashboardSVG {
    /// Tiers in stacking order (cheapest at the bottom) with their colours: greens are answers from
    /// memory, blue from Redis, purple from another node, amber joined in flight, red computed (paid).
    static let tiers: [(Tier, String, String)] = [
        (.l1, "#2e7d32", "L1"), (.hot, "#81c784", "hot"), (.l2, "#0288d1", "L2 (Redis)"),
        (.forwarded, "#7e57c2", "forwarded"), (.coalesced, "#f9a825", "coalesced"), (.computed, "#e53935", "computed"),
    ]

    static func colour(_ tier: Tier) -> String { Self.tiers.first { $0.0 == tier }?.1 ?? "#999" }

    /// Stacked bars of `series` (oldest first), `label(i)` under some bars.
    static func stackedBars(_ series: [PerTier], width: Int = 560, height: Int = 170, label: (Int) -> String?) -> String {
        let left = 44, bottom = 22, top = 8
        let plotW = width - left - 6, plotH = height - bottom - top
        let peak = max(1, series.map(\.total).max() ?? 1)
        let scale = Self.niceCeiling(peak)
        let barW = Double(plotW) / Double(max(1, series.count))
        var out = "<svg viewBox=\"0 0 \(width) \(height)\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
        for k in 0...4 {
            let v = scale * Double(k) / 4
            let y = Double(top) + Double(plotH) * (1 - Double(k) / 4)
            out += "<line x1=\"\(left)\" x2=\"\(width - 6)\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#e6e8eb\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(f(y + 4))\" text-anchor=\"end\" class=\"ax\">\(Self.short(v))</text>"
        }
        for (i, p) in series.enumerated() {
            var y = Double(top + plotH)
            let x = Double(left) + Double(i) * barW
            for (tier, colour, name) in Self.tiers where p[tier] > 0 {
                let h = Double(plotH) * Double(p[tier]) / scale
                y -= h
                out += "<rect x=\"\(f(x + 0.5))\" y=\"\(f(y))\" width=\"\(f(max(0.5, barW - 1)))\" height=\"\(f(h))\" fill=\"\(colour)\"><title>\(name): \(p[tier])</title></rect>"
            }
            if let l = label(i) {
                out += "<text x=\"\(f(x + barW / 2))\" y=\"\(height - 6)\" text-anchor=\"middle\" class=\"ax\">\(l)</text>"
            }
        }
        return out + "</svg>"
    }

    /// One horizontal bar split by tier (a caller's mix).
    static func mixBar(_ t: PerTier, width: Int = 180) -> String {
        let total = max(1, t.total)
        var out = "<svg viewBox=\"0 0 \(width) 12\" width=\"\(width)\" height=\"12\" xmlns=\"http://www.w3.org/2000/svg\">"
        var x = 0.0
        for (tier, colour, name) in Self.tiers where t[tier] > 0 {
            let w = Double(width) * Double(t[tier]) / Double(total)
            out += "<rect x=\"\(f(x))\" y=\"0\" width=\"\(f(w))\" height=\"12\" fill=\"\(colour)\"><title>\(name): \(t[tier])</title></rect>"
            x += w
        }
        return out + "</svg>"
    }

    /// A share from 0 to 1 as a bar with its percentage.
    static func shareBar(_ share: Double, colour: String = "#2e7d32", width: Int = 120) -> String {
        let w = Double(width) * min(1, max(0, share))
        return "<svg viewBox=\"0 0 \(width) 12\" width=\"\(width)\" height=\"12\" xmlns=\"http://www.w3.org/2000/svg\">"
            + "<rect width=\"\(width)\" height=\"12\" fill=\"#eef0f2\"/><rect width=\"\(f(w))\" height=\"12\" fill=\"\(colour)\"/></svg>"
    }

    static func legend() -> String {
        Self.tiers.map { "<span class=\"key\"><i style=\"background:\($0.1)\"></i>\($0.2)</span>" }.joined()
    }

    /// 1, 2, 5 × 10^k at or above `v`.
    static func niceCeiling(_ v: Int) -> Double {
        var m = 1.0
        while true {
            for s in [1.0, 2.0, 5.0] where s * m >= Double(v) { return s * m }
            m *= 10
        }
    }

    static func short(_ v: Double) -> String {
        if v >= 1e6 { return String(format: "%.1fM", v / 1e6) }
        if v >= 1e3 { return v.truncatingRemainder(dividingBy: 1000) == 0 ? String(format: "%.0fk", v / 1e3) : String(format: "%.1fk", v / 1e3) }
        return String(format: "%.0f", v)
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
