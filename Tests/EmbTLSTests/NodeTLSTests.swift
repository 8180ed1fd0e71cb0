import EmbCluster
import EmbTLS
import Foundation
import Testing

/// Loading the material a `tls:` section names, its refusals (each with the key and file in the
/// message), and the reload rules.
@Suite struct NodeTLSTests {
    static func settings(_ dir: String = DevCertificates.cluster, node: String = "n1", key: String? = nil, ca: String? = nil) -> ClusterFile.TLS {
        ClusterFile.TLS(identity: .init(certificate: .file("\(dir)/\(node).pem"), privateKey: .file(key ?? "\(dir)/\(node)-key.pem")),
                        authority: .file(ca ?? "\(dir)/ca.pem"))
    }

    static func refusal(_ settings: ClusterFile.TLS, now: Date = Date()) -> String {
        do {
            _ = try NodeTLS(settings, now: now)
            return "accepted"
        } catch { return "\(error)" }
    }

    @Test func theDevCertificatesMakeEveryContext() throws {
        let tls = try NodeTLS(Self.settings())
        #expect(tls.serverContext(for: .resp) != nil)
        #expect(tls.serverContext(for: .http) != nil)
        #expect(tls.peerClientContext != nil)
        #expect(tls.requiresPeerCertificate)
        #expect(tls.summary.contains("common_name=n1"))
    }

    @Test func theDoorsFollowTheSettings() throws {
        var s = Self.settings()
        s.http = false
        s.peers = .oneWay
        let tls = try NodeTLS(s)
        #expect(tls.serverContext(for: .http) == nil)
        #expect(tls.serverContext(for: .resp) != nil)
        #expect(!tls.requiresPeerCertificate)
        s.resp = false
        s.http = true
        let httpOnly = try NodeTLS(s)
        #expect(httpOnly.serverContext(for: .resp) == nil)
        #expect(httpOnly.peerClientContext == nil)  // peers talk to RESP ports, which are plaintext
        #expect(!httpOnly.requiresPeerCertificate)
    }

    @Test func badMaterialIsRefusedWithTheKeyAndTheFile() {
        let dir = DevCertificates.cluster
        let cases: [(ClusterFile.TLS, String)] = [
            (Self.settings(node: "n9"), "tls.cert: cannot read \(dir)/n9.pem (no such file)"),
            (Self.settings(ca: "\(dir)/ca-key.pem"), "tls.ca: file \(dir)/ca-key.pem holds no PEM certificate"),
            (Self.settings(key: "\(dir)/n1.pem"), "tls.key: file \(dir)/n1.pem holds no usable PEM private key"),
            (Self.settings(key: "\(dir)/n2-key.pem"), "tls.key (file \(dir)/n2-key.pem) is not the key of tls.cert (file \(dir)/n1.pem)"),
            (ClusterFile.TLS(identity: .init(certificate: .environment("EMBTLS_TEST_UNSET"), privateKey: .file("\(dir)/n1-key.pem")),
                             authority: .file("\(dir)/ca.pem")), "tls.cert: environment variable EMBTLS_TEST_UNSET is not set or empty"),
        ]
        for (settings, message) in cases {
            let error = Self.refusal(settings)
            #expect(error.hasPrefix(message), "\(error)")
        }
        var peer = Self.settings()
        peer.peerIdentity = .init(certificate: .file("\(dir)/peer.pem"), privateKey: .file("\(dir)/n1-key.pem"))
        #expect(Self.refusal(peer).hasPrefix("tls.peer_key (file \(dir)/n1-key.pem) is not the key of tls.peer_cert"))
    }

    @Test func certificatesOutsideTheirDatesAreRefused() {
        let later = Date(timeIntervalSinceNow: 3000 * 86400)
        #expect(Self.refusal(Self.settings(), now: later).hasPrefix("tls.cert: the certificate in file \(DevCertificates.cluster)/n1.pem expired on "))
        let earlier = Date(timeIntervalSinceNow: -86400)
        #expect(Self.refusal(Self.settings(), now: earlier).contains("is not valid before"))
    }

    @Test func pemMayComeFromTheEnvironment() throws {
        let dir = DevCertificates.cluster
        setenv("EMBTLS_TEST_CERT", try String(contentsOfFile: "\(dir)/n2.pem", encoding: .utf8), 1)
        setenv("EMBTLS_TEST_KEY", try String(contentsOfFile: "\(dir)/n2-key.pem", encoding: .utf8), 1)
        let s = ClusterFile.TLS(identity: .init(certificate: .environment("EMBTLS_TEST_CERT"), privateKey: .environment("EMBTLS_TEST_KEY")),
                                authority: .file("\(dir)/ca.pem"))
        #expect(try NodeTLS(s).summary.contains("common_name=n2"))
    }

    @Test func aReloadSwapsTheContextsAndABadOneKeepsThem() throws {
        let tls = try NodeTLS(Self.settings())
        let first = try #require(tls.serverContext(for: .resp))
        try tls.reload(Self.settings(node: "n2"))
        let second = try #require(tls.serverContext(for: .resp))
        #expect(first !== second)
        #expect(tls.summary.contains("common_name=n2"))
        #expect(throws: TLSConfigurationError.self) { try tls.reload(Self.settings(node: "n9")) }
        #expect(tls.serverContext(for: .resp) === second)
        var off = Self.settings()
        off.http = false
        #expect(throws: TLSConfigurationError("tls.resp / tls.http changed: turning TLS on or off a port needs a restart (the running contexts are kept)")) {
            try tls.reload(off)
        }
        #expect(tls.serverContext(for: .http) != nil)
    }
}
