import EmbCluster
import Foundation
import Testing

@Suite struct ClusterFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let valid = """
        cluster:
          name: t
          vnodes: 100
          secret: s3cret
        model:
          path: models/x
        cache:
          l1_max_bytes: 1GiB
          ttl: 30m
          early_expiry_beta: 0.5
        nodes:
          - id: a
            resp: 127.0.0.1:7001
            http: 127.0.0.1:8001
            redis: 127.0.0.1:6379/2
          - id: b
            resp: 127.0.0.1:7002
            http: 127.0.0.1:8002
            weight: 2
        """

    /// The error a text gets (nil if it parses).
    static func error(_ yaml: String) -> ClusterFileError? {
        do {
            _ = try ClusterFile.parse(yaml)
            return nil
        } catch let e as ClusterFileError {
            return e
        } catch {
            return ClusterFileError(.syntax, line: nil, "\(error)")
        }
    }

    @Test func theShippedFilesParse() throws {
        let local = try ClusterFile.load(path: Self.root + "/Cluster/local.yaml")
        #expect(local.nodes.map(\.id) == ["n1", "n2", "n3"])
        #expect(local.secret == nil && local.vnodes == 1024 && local.warnings.isEmpty)
        #expect(try ClusterFile.load(path: Self.root + "/Cluster/single.yaml").nodes.count == 1)
    }

    @Test func everyValueIsRead() throws {
        let f = try ClusterFile.parse(Self.valid)
        #expect(f.name == "t" && f.vnodes == 100 && f.secret == "s3cret" && f.modelPath == "models/x")
        #expect(f.l1MaxBytes == 1 << 30 && f.ttlSeconds == 1800 && f.earlyExpiryBeta == 0.5)
        #expect(f.nodes[0].redis == ClusterFile.RedisAddress(host: "127.0.0.1", port: 6379, db: 2))
        #expect(f.nodes[1].redis == nil && f.nodes[1].weight == 2)
        #expect(try f.node("b").resp.port == 7002)
    }

    @Test func anUnknownNodeIDIsRefusedListingTheKnownOnes() throws {
        let f = try ClusterFile.parse(Self.valid)
        do {
            _ = try f.node("zz")
            Issue.record("found a node that is not there")
        } catch let e as ClusterFileError {
            #expect(e.code == .unknownNode && e.message.contains("a, b"))
        }
    }

    @Test(arguments: [
        ("    resp: 127.0.0.1:7001", "    resp: nowhere", ClusterFileError.Code.badValue, 13),
        ("    resp: 127.0.0.1:7001", "    resp: 127.0.0.1:70000", .badValue, 13),
        ("  ttl: 30m", "  ttl: soon", .badValue, 9),
        ("  l1_max_bytes: 1GiB", "  l1_max_bytes: lots", .badValue, 8),
        ("  early_expiry_beta: 0.5", "  early_expiry_beta: -1", .badValue, 10),
        ("  vnodes: 100", "  vnodes: 0", .badValue, 3),
        ("  - id: b", "  - id: a", .duplicateNode, 16),
        ("    http: 127.0.0.1:8002", "    http: 127.0.0.1:8001", .duplicateAddress, 16),
        ("    redis: 127.0.0.1:6379/2", "    redis: 127.0.0.1:6379/x", .badValue, 15),
        ("    weight: 2", "    weight: heavy", .badValue, 19),
        ("    resp: 127.0.0.1:7002", "    resp: 127.0.0.1:7001", .duplicateAddress, 16),
        ("    redis: 127.0.0.1:6379/2", "    redis: nohost", .badValue, 15),
        ("  ttl: 30m", "  ttl: 0s", .badValue, 9),
        ("  l1_max_bytes: 1GiB", "  l1_max_bytes: -1MiB", .badValue, 8),
        // Values that used to pass validation and then trap converting to Int (ttl → Redis EX,
        // size → Int, weight → ring points) or ask for a ring too large to build.
        ("  ttl: 30m", "  ttl: infh", .badValue, 9),
        ("  l1_max_bytes: 1GiB", "  l1_max_bytes: 99999999999999999999GiB", .badValue, 8),
        ("  early_expiry_beta: 0.5", "  early_expiry_beta: inf", .badValue, 10),
        ("    weight: 2", "    weight: inf", .badValue, 19),
        ("    weight: 2", "    weight: 0.001", .badValue, 19),
        ("  vnodes: 100", "  vnodes: 2000000", .badValue, 3),
    ])
    func aBadValueIsRefusedWithItsLine(old: String, new: String, code: ClusterFileError.Code, line: Int) {
        let e = Self.error(Self.valid.replacingOccurrences(of: old, with: new))
        #expect(e?.code == code, "\(new): \(String(describing: e))")
        #expect(e?.line == line, "\(new): \(String(describing: e))")
    }

    /// A missing field names the line of the mapping it belongs in.
    @Test(arguments: [
        (Self.valid.replacingOccurrences(of: "    http: 127.0.0.1:8001\n", with: ""), ClusterFileError.Code.missingField, 12),
        (Self.valid.replacingOccurrences(of: "  name: t\n", with: ""), .missingField, 2),
        ("cluster:\n  name: t\n", .missingField, 1),
        ("cluster:\n  name: t\nnodes: []\n", .badValue, 3),
        // No cluster section at all (this used to crash on a force-unwrap).
        ("nodes:\n  - id: a\n    resp: 127.0.0.1:1\n    http: 127.0.0.1:2\n", .missingField, 1),
    ])
    func missingFieldsAreRefusedWithTheirLine(yaml: String, code: ClusterFileError.Code, line: Int) {
        let e = Self.error(yaml)
        #expect(e?.code == code && e?.line == line, "\(String(describing: e))")
    }

    @Test func badYAMLIsASyntaxErrorWithItsLine() {
        let e = Self.error("cluster:\n  name: [unclosed\nnodes:\n")
        #expect(e?.code == .syntax)
        // libyaml notices the unclosed flow sequence where it meets the next key, line 3.
        #expect(e?.line == 3, "\(String(describing: e))")
    }

    @Test func unknownKeysAreWarningsNotErrors() throws {
        let f = try ClusterFile.parse(Self.valid.replacingOccurrences(of: "  vnodes: 100", with: "  vnodes: 100\n  colour: blue") + "\nextra: 1\n")
        #expect(f.warnings.map(\.code) == [.unknownKey, .unknownKey])
        #expect(f.warnings.first?.line == 4)
    }

    @Test func unitsParse() {
        #expect(Units.bytes("256MiB") == 256 << 20 && Units.bytes("1GB") == 1_000_000_000 && Units.bytes("1048576") == 1 << 20)
        #expect(Units.bytes("-1") == nil && Units.bytes("x") == nil)
        #expect(Units.seconds("24h") == 86400 && Units.seconds("90s") == 90 && Units.seconds("500ms") == 0.5 && Units.seconds("1d") == 86400)
    }

    @Test func anUnreadableFileIsRefused() {
        #expect(throws: ClusterFileError.self) { try ClusterFile.load(path: "/nonexistent.yaml") }
    }
}
