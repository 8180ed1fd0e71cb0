import EmbCluster
import Foundation
import Testing

@Suite struct SecretTests {
    static func file(_ cluster: String, node: String = "", environment: [String: String] = [:], base: String? = nil) throws -> ClusterFile {
        try ClusterFile.parse("""
            cluster:
              name: t
            \(cluster)
            nodes:
              - id: n1
                resp: 127.0.0.1:7401
                http: 127.0.0.1:8401
            \(node)
            """, baseDirectory: base, environment: environment)
    }

    @Test func aSecretNeverPrints() {
        let s: Secret = "hunter2-very-secret"
        var dumped = ""
        dump(s, to: &dumped)
        for text in ["\(s)", String(reflecting: s), dumped, "\(Optional(s) as Any)"] { #expect(!text.contains("hunter2"), "\(text)") }
    }

    @Test func matchingIsExactWhateverTheLengths() {
        let s: Secret = "abcdef"
        #expect(s.matches(Array("abcdef".utf8)))
        for wrong in ["", "a", "abcde", "abcdeg", "abcdefg", "ABCDEF", "bcdefa"] { #expect(!s.matches(Array(wrong.utf8)), "\(wrong)") }
    }

    @Test func theSecretCanComeFromTheEnvironmentOrAFile() throws {
        #expect(try Self.file("  secret_env: EMB_S", environment: ["EMB_S": "from-env"]).secret == "from-env")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embsecret-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "from-file\r\n".write(to: dir.appendingPathComponent("s.txt"), atomically: true, encoding: .utf8)
        #expect(try Self.file("  secret_file: s.txt", base: dir.path).secret == "from-file")
        #expect(try Self.file("  secret_file: \(dir.path)/s.txt").secret == "from-file")
    }

    @Test func aMissingOrDoubleSecretIsRefusedWithoutShowingAValue() throws {
        for (yaml, env) in [("  secret_env: NOPE", [String: String]()), ("  secret_env: EMPTY", ["EMPTY": ""]),
                            ("  secret_file: /nonexistent/secret", [:]), ("  secret: inline-value\n  secret_env: X", ["X": "env-value"])] {
            let e = #expect(throws: ClusterFileError.self) { try Self.file(yaml, environment: env) }
            #expect(e?.code == .badSecret)
            #expect(!(e?.description.contains("value") ?? true), "\(e?.description ?? "")")
        }
    }

    @Test func aSecretFileIsReadBoundedSoADeviceCannotHangTheNode() throws {
        let e = #expect(throws: ClusterFileError.self) { try Self.file("  secret_file: /dev/zero") }
        #expect(e?.code == .badSecret && (e?.description.contains("over") ?? false), "\(e?.description ?? "")")
    }

    @Test func metricsArePrivateUnlessTheFileSaysPublic() throws {
        #expect(try Self.file("").metricsPublic == false)
        #expect(try Self.file("  metrics_public: true").metricsPublic == true)
        #expect(throws: ClusterFileError.self) { try Self.file("  metrics_public: sometimes") }
    }

    @Test func redisTakesBothFormsWithCredentials() throws {
        typealias A = ClusterFile.RedisAddress
        #expect(try A.parse("10.0.0.5:6380/2") == A(host: "10.0.0.5", port: 6380, db: 2))
        #expect(try A.parse("redis://127.0.0.1:6379") == A(host: "127.0.0.1", port: 6379, db: 0))
        #expect(try A.parse("redis://:pw@127.0.0.1:6379/1") == A(host: "127.0.0.1", port: 6379, db: 1, password: "pw"))
        let acl = try A.parse("redis://embc:p%40ss%3Aword@cache.internal:6379/0")
        #expect(acl.username == "embc" && acl.password == "p@ss:word" && acl.host == "cache.internal")
        #expect(acl.description == "redis://embc:<redacted>@cache.internal:6379/0")
    }

    @Test func aBadRedisAddressIsRefusedWithoutEchoingIt() throws {
        for bad in ["rediss://:pw-secret@h:1", "redis://:pw-secret@h", "redis://:pw-secret@h:1/x", "pw-secret@h:1",
                    "redis://:pw-secret@h:70000"] {
            let e = #expect(throws: RedisAddressError.self) { try ClusterFile.RedisAddress.parse(bad) }
            #expect(!(e?.description.contains("pw-secret") ?? true))
            let f = #expect(throws: ClusterFileError.self) { try Self.file("", node: "    redis: \"\(bad)\"") }
            #expect(!(f?.description.contains("pw-secret") ?? true))
        }
    }

    @Test func theRedisPasswordCanComeFromTheEnvironment() throws {
        let f = try Self.file("", node: "    redis: redis://embc@127.0.0.1:6379/0\n    redis_password_env: RP", environment: ["RP": "rp"])
        #expect(f.nodes[0].redis?.password == "rp" && f.nodes[0].redis?.username == "embc")
    }
}
