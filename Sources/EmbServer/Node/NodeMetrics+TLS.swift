// The TLS gauges of GET /metrics: the served certificate's end date as a timestamp, so an alert can
// fire days before it passes (as blackbox_exporter's probe_ssl_earliest_cert_expiry does), and the
// refusals and reloads INFO tls also shows. Read at scrape time from NodeTLS; only
// embcache_tls_enabled 0 when TLS is off.
import EmbTLS

extension NodeMetrics {
    static func tlsGauges(_ tls: NodeTLS?) -> String {
        typealias Family = (name: String, type: String, help: String, samples: [(labels: String, value: Double)])
        var families: [Family] = [("embcache_tls_enabled", "gauge", "1 when the node's doors speak TLS.", [("", tls == nil ? 0 : 1)])]
        if let tls {
            families += [
                ("embcache_tls_certificate_expiry_timestamp_seconds", "gauge",
                 "When the served certificate stops being valid (Unix seconds).", [("", tls.certificateNotAfter.timeIntervalSince1970.rounded())]),
                ("embcache_tls_reloads_total", "counter", "Certificate reloads (SIGHUP, CLUSTER RELOAD) that succeeded.", [("", Double(tls.reloads))]),
                ("embcache_tls_refused_total", "counter", "Connections refused by the TLS layer, by reason.", [
                    ("{reason=\"plaintext\"}", Double(tls.refusals.total(.plaintext))),
                    ("{reason=\"handshake\"}", Double(tls.refusals.total(.handshake))),
                ]),
            ]
        }
        var text = ""
        for family in families {
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for sample in family.samples { text += "\(family.name)\(sample.labels) \(Int(sample.value))\n" }
        }
        return text
    }
}
