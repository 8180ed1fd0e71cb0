// The cluster file's `savings:` section: the prices savings are shown at, and the optional audit
// log. Every key is optional; the defaults are in `ClusterFile.Savings`.
//
//   savings:
//     price_per_1m_tokens: 0.02     # what a hosted embedding API charges per 1M tokens
//     price_per_cpu_hour: 0.04      # what one of our CPUs costs per hour
//     currency: USD
//     audit_log: null               # a path ("{node}" = the node's id): JSON lines per text (never the text); null = off
//     audit_log_max_bytes: 64MiB    # rotated to <path>.1 beyond this
import Yams

extension ClusterFile {
    /// Prices and the audit log.
    public struct Savings: Sendable, Equatable {
        public var pricePerMillionTokens = 0.02
        public var pricePerCPUHour = 0.04
        public var currency = "USD"
        public var auditLog: String?
        public var auditLogMaxBytes = 64 << 20
        public init() {}
    }

    static let savingsKeys: Set<String> = ["price_per_1m_tokens", "price_per_cpu_hour", "currency", "audit_log", "audit_log_max_bytes"]

    /// Reads the `savings:` section (nil: the defaults).
    static func savings(_ section: Yams.Node.Mapping?) throws -> Savings {
        var out = Savings()
        guard let section else { return out }
        func price(_ key: String) throws -> Double? {
            guard let v = section[key] else { return nil }
            guard let d = Double(v.string ?? ""), d.isFinite, d >= 0 else {
                throw ClusterFileError(.badValue, line: Self.line(v), "savings.\(key) must be a number >= 0")
            }
            return d
        }
        if let p = try price("price_per_1m_tokens") { out.pricePerMillionTokens = p }
        if let p = try price("price_per_cpu_hour") { out.pricePerCPUHour = p }
        if let v = section["currency"] {
            guard let c = v.string, (1...8).contains(c.count), c.allSatisfy({ $0.isLetter }) else {
                throw ClusterFileError(.badValue, line: Self.line(v), "savings.currency must be 1 to 8 letters, like USD")
            }
            out.currency = c
        }
        if let v = section["audit_log"], !Self.isNull(v), let path = v.string, !path.isEmpty { out.auditLog = path }
        if let v = section["audit_log_max_bytes"] {
            guard let n = Units.bytes(v.string ?? ""), n >= 4096 else {
                throw ClusterFileError(.badValue, line: Self.line(v), "savings.audit_log_max_bytes must be a size of at least 4KiB, like 64MiB")
            }
            out.auditLogMaxBytes = n
        }
        return out
    }
}
