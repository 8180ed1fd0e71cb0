// The cluster file's `savings:` section: prices and the audit log, validated like every other value.
import EmbCluster
import Testing

@Suite struct ClusterFileSavingsTests {
    static let nodes = "nodes:\n  - id: n1\n    resp: 127.0.0.1:7401\n    http: 127.0.0.1:8401\n"

    @Test func pricesAndAuditLogAreRead() throws {
        let f = try ClusterFile.parse("cluster:\n  name: t\nsavings:\n  price_per_1m_tokens: 0.13\n  price_per_cpu_hour: 0.5\n  currency: EUR\n"
                                      + "  audit_log: /tmp/audit.jsonl\n  audit_log_max_bytes: 1MiB\n" + Self.nodes)
        #expect(f.savings.pricePerMillionTokens == 0.13)
        #expect(f.savings.pricePerCPUHour == 0.5)
        #expect(f.savings.currency == "EUR")
        #expect(f.savings.auditLog == "/tmp/audit.jsonl")
        #expect(f.savings.auditLogMaxBytes == 1 << 20)
        #expect(f.warnings.isEmpty)
    }

    @Test func withoutTheSectionTheDefaultsApply() throws {
        let f = try ClusterFile.parse("cluster:\n  name: t\n" + Self.nodes)
        #expect(f.savings == ClusterFile.Savings())
        #expect(f.savings.auditLog == nil)
    }

    @Test func aNegativePriceIsRefusedWithItsLine() {
        #expect(throws: ClusterFileError(.badValue, line: 4, "savings.price_per_cpu_hour must be a number >= 0")) {
            try ClusterFile.parse("cluster:\n  name: t\nsavings:\n  price_per_cpu_hour: -1\n" + Self.nodes)
        }
    }
}
