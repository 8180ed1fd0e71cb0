// `embcache report --cluster FILE [--json] [--window W]`: every node's savings snapshot (RESP
// `SAVINGS`), added up: per caller, the texts, the duplicate share, the compute and money saved at
// the prices of the cluster file's `savings:` section, and the callers' overlap. A table on the
// terminal, or the same figures as JSON (what the dashboard's browser test compares against).
import ArgumentParser
import EmbCluster
import EmbNode
import EmbRedis
import EmbServer
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The cluster's duplicates and savings, per caller, added up over every node."
    )

    @Option(help: "The cluster file.") var cluster: String
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Window of the table: 1m, 1h, 24h or total (JSON has them all).") var window = "total"

    func run() throws {
        guard let window = SavingsWindow(rawValue: self.window) else { throw ValidationError("--window: expected 1m, 1h, 24h or total") }
        let file = try ClusterFile.load(path: self.cluster)
        var snapshots: [SavingsSnapshot] = []
        var unreachable: [String] = []
        for node in file.nodes {
            if let s = Self.snapshot(node.resp, secret: file.secret) { snapshots.append(s) } else { unreachable.append(node.id) }
        }
        let report = ClusterSavings(snapshots, unreachable: unreachable)
        if self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.table(report, window: window), terminator: "")
        }
        if snapshots.isEmpty { throw ExitCode(1) }
    }

    static func snapshot(_ address: ClusterFile.HostPort, secret: Secret?) -> SavingsSnapshot? {
        let credentials = secret.map { RedisCredentials(username: nil, password: $0.reveal) }
        guard let c = try? RedisConnection.connect(host: address.host, port: address.port, db: 0, credentials: credentials, connectTimeout: 1,
                                                   commandTimeout: 10).get(),
            case .string(let bytes)? = c.command([Array("SAVINGS".utf8)])
        else { return nil }
        return try? SavingsSnapshot.decode(bytes)
    }

    static func table(_ r: ClusterSavings, window: SavingsWindow) -> String {
        let w = r.windows[window.rawValue] ?? ClusterSavings.Window(callers: [:], total: SavingsFigures())
        let cur = r.prices.currency
        var out = "embcache report: \(r.nodes.count) node(s) \(r.nodes.joined(separator: ", "))"
        out += r.unreachable.isEmpty ? "" : "; unreachable: \(r.unreachable.joined(separator: ", "))"
        out += "; window \(window.rawValue)\n"
        // A node that served texts itself because their owner serves another checkpoint (a rollout
        // in progress, or a stale copy): the operator should know.
        let mismatches = r.nodes.compactMap { id in r.health[id]?.peerModelMismatch.map { "\(id)=\($0)" } }
        if !mismatches.isEmpty { out += "peer_model_mismatch: \(mismatches.joined(separator: " "))\n" }
        out += String(format: "prices: %.4f %@ per 1M tokens (hosted API), %.4f %@ per CPU-hour\n\n", r.prices.perMillionTokens, cur, r.prices.perCPUHour, cur)
        let header = ["caller", "requests", "texts", "tokens", "dup share", "l1", "hot", "l2", "fwd", "coal", "computed", "spent s", "saved s", "saved API", "saved CPU"]
        var rows: [[String]] = []
        func row(_ name: String, _ f: SavingsFigures) -> [String] {
            [name, "\(f.requests)", "\(f.texts)", "\(f.tokens)", String(format: "%.1f%%", 100 * f.duplicateShare), "\(f.byTier.l1)", "\(f.byTier.hot)",
             "\(f.byTier.l2)", "\(f.byTier.forwarded)", "\(f.byTier.coalesced)", "\(f.byTier.computed)", String(format: "%.3f", f.spentSeconds),
             String(format: "%.3f", f.savedSeconds), String(format: "%.6f", f.savedMoneyAPI), String(format: "%.6f", f.savedMoneyCPU)]
        }
        for (name, f) in w.callers.sorted(by: { ($0.value.texts, $1.key) > ($1.value.texts, $0.key) }) { rows.append(row(name, f)) }
        rows.append(row("TOTAL", w.total))
        let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[i] - c.count) + c }
                .joined(separator: "  ") + "\n"
        }
        out += line(header)
        out += line(widths.map { String(repeating: "-", count: $0) })
        for (i, r) in rows.enumerated() {
            if i == rows.count - 1 { out += line(widths.map { String(repeating: "-", count: $0) }) }
            out += line(r)
        }
        let o = window == .total ? r.overlap : r.overlapWindows[window.rawValue] ?? r.overlap
        out += String(format: "\noverlap (\(window == .total ? "since start" : "last " + window.rawValue)): %.0f of %.0f distinct texts asked by 2+ callers%@\n", o.multiCallerKeys, o.distinctKeys,
                      o.level == 0 ? " (exact)" : String(format: " (±%.1f%%, sampled 1 in %d)", 100 * o.multiCallerRelativeError, 1 << o.level))
        for p in o.pairs { out += String(format: "  %@ & %@: %.0f shared texts\n", p.a, p.b, p.keys) }
        return out
    }
}
