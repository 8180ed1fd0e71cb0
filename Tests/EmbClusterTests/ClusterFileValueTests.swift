// Cluster-file values at their edges: nulls judged by YAML tag rather than text, units at their
// limits, and duplicate keys. (Line-numbered refusals are in ClusterFileTests.)
import EmbCluster
import Testing

@Suite struct ClusterFileValueTests {
    static func file(secret: String, redis: String = "127.0.0.1:6479/0") throws -> ClusterFile {
        try ClusterFile.parse("""
            cluster:
              name: t
            \(secret)
            nodes:
              - id: a
                resp: 127.0.0.1:7001
                http: 127.0.0.1:8001
                redis: \(redis)
            """)
    }

    @Test func aNullOrAbsentSecretLeavesTheClusterOpen() throws {
        #expect(try Self.file(secret: "  secret: null").secret == nil)
        #expect(try Self.file(secret: "  secret: ~").secret == nil)
        #expect(try Self.file(secret: "  secret:").secret == nil)
        #expect(try Self.file(secret: "").secret == nil)
    }

    @Test func aQuotedNullIsASecretNotAnOpenCluster() throws {
        #expect(try Self.file(secret: "  secret: \"null\"").secret == "null")
        #expect(try Self.file(secret: "  secret: 'NULL'").secret == "NULL")
    }

    @Test func aNullRedisMeansNoRedisAndADatabaseDefaultsToZero() throws {
        #expect(try Self.file(secret: "", redis: "null").nodes[0].redis == nil)
        #expect(try Self.file(secret: "", redis: "~").nodes[0].redis == nil)
        #expect(try Self.file(secret: "", redis: "127.0.0.1:6479").nodes[0].redis == ClusterFile.RedisAddress(host: "127.0.0.1", port: 6479, db: 0))
    }

    @Test func theDefaultsApplyWhenSectionsAreAbsent() throws {
        let f = try Self.file(secret: "")
        #expect(f.vnodes == 1024 && f.earlyExpiryBeta == 1.0 && f.ttlSeconds == 86400 && f.l1MaxBytes == 256 << 20)
        #expect(f.modelPath == "models/all-MiniLM-L6-v2" && f.nodes[0].weight == 1 && f.warnings.isEmpty)
    }

    @Test func aDuplicatedKeyIsASyntaxError() {
        // Yams refuses duplicate keys itself (reporting the mapping's first line), so a second
        // `name:` cannot silently win.
        let e = #expect(throws: ClusterFileError.self) { try Self.file(secret: "  name: u") }
        #expect(e?.code == .syntax)
    }

    @Test func sizesParseInBinaryAndDecimalUnitsAndRefuseWhatAnIntCannotHold() {
        #expect(Units.bytes("512MB") == 512_000_000 && Units.bytes("1GiB") == 1 << 30 && Units.bytes("1.5KiB") == 1536)
        #expect(Units.bytes("0") == 0 && Units.bytes("0MiB") == 0)
        #expect(Units.bytes("99999999999999999999GiB") == nil && Units.bytes("infGiB") == nil && Units.bytes("nanMiB") == nil)
        #expect(Units.bytes("-1MiB") == nil && Units.bytes("MiB") == nil)
    }

    @Test func durationsParseAndRefuseWhatIsNotFinite() {
        #expect(Units.seconds("30m") == 1800 && Units.seconds("2d") == 172_800 && Units.seconds("1500ms") == 1.5)
        #expect(Units.seconds("infh") == nil && Units.seconds("nan") == nil && Units.seconds("soon") == nil)
        #expect(Units.seconds("-5s") == -5, "the sign is the caller's to judge")
    }
}
