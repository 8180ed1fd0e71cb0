import EmbCluster
import Foundation
import Testing

/// The `tls:` section's shape: what it accepts, its defaults, per-node overrides, and every refusal.
@Suite struct ClusterFileTLSTests {
    static func file(_ tls: String, node: String = "", base: String? = "/etc/emb") throws -> ClusterFile {
        try ClusterFile.parse("""
            cluster:
              name: t
            \(tls)
            nodes:
              - id: n1
                resp: 127.0.0.1:7401
                http: 127.0.0.1:8401
            \(node)
              - id: n2
                resp: 127.0.0.1:7402
                http: 127.0.0.1:8402
            """, baseDirectory: base)
    }

    static let minimal = """
        tls:
          cert: certs/{node}.pem
          key: certs/{node}-key.pem
          ca: /pki/ca.pem
        """

    static func refusal(_ tls: String, node: String = "") -> ClusterFileError? {
        do { _ = try Self.file(tls, node: node); return nil } catch { return error as? ClusterFileError }
    }

    @Test func noSectionIsPlaintext() throws {
        let f = try Self.file("")
        #expect(f.tls == nil)
        #expect(f.tls(for: "n1") == nil)
    }

    @Test func theMinimalSectionHasSafeDefaultsAndPathsRelativeToTheFile() throws {
        let tls = try #require(try Self.file(Self.minimal).tls(for: "n2"))
        #expect(tls.identity == .init(certificate: .file("/etc/emb/certs/n2.pem"), privateKey: .file("/etc/emb/certs/n2-key.pem")))
        #expect(tls.authority == .file("/pki/ca.pem"))
        #expect(tls.resp && tls.http)
        #expect(tls.peers == .mutual)
        #expect(tls.clientAuth == ClusterFile.TLS.ClientAuthentication.none)
        #expect(tls.peerClientIdentity == tls.identity)
    }

    @Test func everyKeyIsRead() throws {
        let f = try Self.file("""
            tls:
              cert_env: EMB_CERT_{node}
              key_env: EMB_KEY
              ca_env: EMB_CA
              peer_cert: peer.pem
              peer_key: peer-key.pem
              resp: true
              http: false
              peers: one_way
              client_auth: required
            """)
        let tls = try #require(f.tls(for: "n1"))
        #expect(tls.identity == .init(certificate: .environment("EMB_CERT_n1"), privateKey: .environment("EMB_KEY")))
        #expect(tls.authority == .environment("EMB_CA"))
        #expect(tls.peerClientIdentity == .init(certificate: .file("/etc/emb/peer.pem"), privateKey: .file("/etc/emb/peer-key.pem")))
        #expect(!tls.http && tls.resp)
        #expect(tls.peers == .oneWay)
        #expect(tls.clientAuth == .required)
        #expect(f.warnings.isEmpty)
    }

    @Test func aNodeEntryOverridesItsOwnCertificate() throws {
        let f = try Self.file(Self.minimal, node: """
                tls:
                  cert: /hosts/a.pem
                  key: /hosts/a-key.pem
            """)
        #expect(f.tls(for: "n1")?.identity == .init(certificate: .file("/hosts/a.pem"), privateKey: .file("/hosts/a-key.pem")))
        #expect(f.tls(for: "n2")?.identity.certificate == .file("/etc/emb/certs/n2.pem"))
    }

    @Test func unknownKeysAreWarnings() throws {
        let f = try Self.file(Self.minimal + "\n  ciphers: ALL")
        #expect(f.warnings.map(\.code) == [.unknownKey])
        #expect(f.warnings.first?.message.contains("tls.ciphers") == true)
    }

    @Test func refusalsNameTheProblem() {
        let cases: [(String, String, ClusterFileError.Code, String)] = [
            ("tls:\n  cert: a.pem\n  key: b.pem", "", .missingField, "missing: ca"),
            ("tls:\n  key: b.pem\n  ca: c.pem", "", .missingField, "missing: cert"),
            ("tls:\n  cert: a.pem\n  cert_env: X\n  key: b.pem\n  ca: c.pem", "", .badValue, "only one of cert, cert_env"),
            ("tls:\n  cert: ''\n  key: b.pem\n  ca: c.pem", "", .badValue, "tls.cert must be a path"),
            (Self.minimal + "\n  peer_cert: p.pem", "", .missingField, "both peer_cert and peer_key"),
            (Self.minimal + "\n  http: maybe", "", .badValue, "tls.http must be true or false"),
            (Self.minimal + "\n  peers: sometimes", "", .badValue, "tls.peers must be one of: mutual, one_way"),
            (Self.minimal + "\n  client_auth: yes", "", .badValue, "tls.client_auth must be one of: none, optional, required"),
            (Self.minimal + "\n  resp: false\n  peers: mutual", "", .badValue, "needs tls.resp: true"),
            ("tls: [a, b]", "", .badValue, "'tls' must be a mapping"),
            ("", "    tls:\n      cert: a.pem\n      key: b.pem", .badValue, "no 'tls' section"),
            (Self.minimal, "    tls:\n      cert: a.pem", .missingField, "node n1 tls needs both cert and key"),
            (Self.minimal, "    tls: a.pem", .badValue, "node n1 tls must be a mapping"),
        ]
        for (tls, node, code, words) in cases {
            let error = Self.refusal(tls, node: node)
            #expect(error?.code == code, "\(tls) \(node): \(String(describing: error))")
            #expect(error?.message.contains(words) == true, "\(tls) \(node): \(String(describing: error))")
            #expect(error?.line != nil, "\(tls) \(node): no line")
        }
    }
}
