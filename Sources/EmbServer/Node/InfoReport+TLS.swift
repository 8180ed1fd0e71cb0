// INFO tls: what the doors speak, the served certificate's end date (so monitoring can warn before
// it passes) and the refusals the TLS layer counted.
import EmbTLS
import Foundation

extension InfoReport {
    static func tls(_ tls: NodeTLS?) -> [(String, Any)] {
        guard let tls else { return [("tls_enabled", 0)] }
        let s = tls.settings
        let notAfter = tls.certificateNotAfter
        return [
            ("tls_enabled", 1), ("tls_resp", s.resp ? 1 : 0), ("tls_http", s.http ? 1 : 0), ("tls_peers", s.peers.rawValue),
            ("tls_client_auth", s.clientAuth.rawValue), ("tls_certificate_not_after", Int(notAfter.timeIntervalSince1970)),
            ("tls_certificate_days_left", Int(notAfter.timeIntervalSinceNow / 86400)), ("tls_reloads", tls.reloads),
            ("tls_plaintext_refused", tls.refusals.total(.plaintext)), ("tls_handshakes_refused", tls.refusals.total(.handshake)),
        ]
    }
}
