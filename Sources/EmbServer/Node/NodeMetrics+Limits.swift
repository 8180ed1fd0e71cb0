// Metrics of the node's defences: failed AUTH / bearer attempts, connections refused or dropped,
// requests timed out, connections open. Rare events (except the open-connection gauge), so the
// handles are looked up in the registry (which returns the one already made) when they happen.
import Prometheus

extension NodeMetrics {
    /// A failed password or bearer token on `interface` ("resp" | "http"). Never labelled with what was sent.
    func authFailure(_ interface: String) {
        self.registry.makeCounter(name: "embcache_auth_failures_total", labels: [("interface", interface)]).increment()
    }

    /// A connection closed by the node: `reason` is "max_clients" or "output".
    func connectionDropped(_ reason: String) {
        self.registry.makeCounter(name: "embcache_connections_dropped_total", labels: [("reason", reason)]).increment()
    }

    /// A client that let more than `maxOutputBytes` of replies pile up unread.
    func droppedForOutput() { self.connectionDropped("output") }

    /// Requests answered -BUSY / 503 because they took longer than the request timeout.
    func timedOut(_ n: Int) {
        self.registry.makeCounter(name: "embcache_request_timeouts_total").increment(by: Int64(n))
    }

    /// Open client connections (RESP and HTTP).
    var connectedClients: Gauge { self.registry.makeGauge(name: "embcache_connected_clients") }
}
