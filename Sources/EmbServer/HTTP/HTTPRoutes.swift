// The HTTP routes other than POST /v1/embeddings (HTTPHandler+Embeddings), as functions from a
// request to an answer: GET /healthz, /readyz, /metrics, /v1/models[/{id}] (ModelList), /savings,
// /savings/cluster and the dashboard at / (Savings/Dashboard). Which routes need the bearer token
// is decided here too; the token itself is judged by the AuthGate.
import EmbCluster
import Foundation
import NIOCore
import NIOHTTP1

enum HTTPRoutes {
    /// Whether `path` needs the bearer token when a secret is set: `/v1/*`, and the observability
    /// routes (/metrics, /savings…, the dashboard at / and /dashboard, which name callers and their
    /// traffic) unless the cluster file says `metrics_public: true`. `/healthz` and `/readyz` stay
    /// open (load balancers and orchestrators probe them without credentials).
    static func requiresAuth(_ path: String, metricsPublic: Bool) -> Bool {
        if path.hasPrefix("/v1/") || path == "/v1" { return true }
        let observability = path == "/metrics" || path == "/savings" || path.hasPrefix("/savings/") || path == "/" || path == "/dashboard"
        return observability && !metricsPublic
    }

    /// The token of `Authorization: Bearer <token>` (scheme case-insensitive), or nil: what the
    /// `openai` client sends as its api_key.
    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "Authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The 401 for a missing or wrong token, in OpenAI's shape.
    static func unauthorized(tokenGiven: Bool) -> HTTPResponse {
        let message = tokenGiven
            ? "Incorrect API key provided."
            : "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer YOUR_KEY'."
        return .error(.unauthorized, message, type: "invalid_request_error", code: "invalid_api_key")
    }

    static let tooManyFailures = HTTPResponse.error(.tooManyRequests, "Too many failed authentication attempts from this address; try again later.",
                                                    type: "invalid_request_error", code: "rate_limit_exceeded")

    /// The answer of a route other than POST /v1/embeddings; nil for that one.
    static func answer(_ head: HTTPRequestHead, path: String, server: ServerContext) -> HTTPAnswer? {
        if path == "/v1/models" || path.hasPrefix("/v1/models/") { return .now(Self.models(head, path: path, server: server)) }
        switch (head.method, path) {
        case (.GET, "/healthz"):
            return .now(.json(#"{"status":"ok"}"#))
        case (.GET, "/readyz"):
            // Not ready before the node has a view of its peers (ClusterRouter.hasPeerView): a node
            // that routed before its first health round would send every key to itself for a while.
            if server.cluster?.hasPeerView == false {
                return .now(.json(#"{"status":"waiting for a view of the peers"}"#, status: .serviceUnavailable))
            }
            // The model is the default lane's (what a request that names none gets); /v1/models lists all.
            return .now(.json(#"{"status":"ready","model":"\#(server.models.defaultLane.name)"}"#))
        case (.GET, "/metrics"):
            return .now(.text(server.metrics.export(server), contentType: "text/plain; version=0.0.4"))
        case (.GET, "/savings"):
            return .now(.json(server.savingsSnapshot().json()))
        case (.GET, "/"), (.GET, "/dashboard"):
            return .later {
                let html = Dashboard.render(await server.clusterSavings(), node: server.nodeID)
                return .text(html, contentType: "text/html; charset=utf-8")
            }
        case (.GET, "/savings/cluster"):
            return .later {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let json = (try? encoder.encode(await server.clusterSavings())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                return .json(json)
            }
        case (.POST, "/v1/embeddings"):
            return nil
        case (_, "/v1/embeddings"), (_, "/healthz"), (_, "/readyz"), (_, "/metrics"):
            return .now(.error(.methodNotAllowed, "method \(head.method) not allowed on \(path)", type: "invalid_request_error"))
        default:
            return .now(.error(.notFound, "no route \(path)", type: "invalid_request_error"))
        }
    }

    /// GET /v1/models and GET /v1/models/{id}. An id may hold slashes
    /// ("sentence-transformers/all-MiniLM-L6-v2"), so everything after the prefix is the id, percent-decoded.
    private static func models(_ head: HTTPRequestHead, path: String, server: ServerContext) -> HTTPResponse {
        let prefix = "/v1/models"
        guard head.method == .GET else { return .error(.methodNotAllowed, "method \(head.method) not allowed on \(path)", type: "invalid_request_error") }
        let list = ModelList(catalog: server.models, created: Int(server.startedAt.timeIntervalSince1970))
        if path == prefix || path == prefix + "/" { return .json(list.listJSON()) }
        let raw = String(path.dropFirst(prefix.count + 1))
        let id = raw.removingPercentEncoding ?? raw
        if let json = list.modelJSON(id) { return .json(json) }
        return .error(.notFound, server.lanes.unknown(id).message, type: "invalid_request_error", param: "model", code: "model_not_found")
    }
}
