// The bearer token on HTTP: with a cluster secret, `/v1/*` (and `/metrics`, `/savings…` and the
// dashboard, unless the cluster file says `metrics_public: true`) needs `Authorization: Bearer <secret>` — what the `openai` client
// sends as its api_key. A missing or wrong token gets OpenAI's 401 shape. `/healthz` and `/readyz`
// stay open (load balancers and orchestrators probe them without credentials). Tokens are compared
// in constant time and throttled per client address exactly as RESP passwords are (AuthThrottle):
// from an address that has failed, every request is judged only after its delay.
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    /// Whether `path` needs the bearer token when a secret is set. The observability routes
    /// (/metrics, /savings…, the dashboard at / and /dashboard) name callers and their traffic:
    /// closed too, unless the cluster file says `metrics_public: true`.
    func requiresAuth(_ path: String) -> Bool {
        if path.hasPrefix("/v1/") || path == "/v1" { return true }
        let observability = path == "/metrics" || path == "/savings" || path.hasPrefix("/savings/") || path == "/" || path == "/dashboard"
        return observability && !self.server.metricsPublic
    }

    /// Whether the request may be served now. False: it was answered (401), or it will be routed
    /// again once its throttle delay has passed.
    func admit(_ head: HTTPRequestHead, path: String, context: ChannelHandlerContext) -> Bool {
        guard self.server.secret != nil, self.requiresAuth(path) else { return true }
        if self.admitted {
            self.admitted = false
            return true
        }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        switch self.server.authThrottle.verdict(for: address) {
        case .now:
            return self.judge(head, address: address, context: context)
        case .refuse:
            self.server.metrics.authFailure("http")
            self.error(context, head, .tooManyRequests, "Too many failed authentication attempts from this address; try again later.",
                       type: "invalid_request_error", code: "rate_limit_exceeded")
            return false
        case .after(let seconds):
            // The HTTP pipeline handler holds this connection's next request until we answer.
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
                let (handler, context) = bound.value
                guard handler.judge(head, address: address, context: context) else { return }
                handler.admitted = true
                handler.route(head, context: context)
            }
            return false
        }
    }

    /// Checks the bearer token; answers 401 (and counts the failure) when it is missing or wrong.
    private func judge(_ head: HTTPRequestHead, address: String, context: ChannelHandlerContext) -> Bool {
        guard let secret = self.server.secret else { return true }
        let token = Self.bearerToken(head.headers)
        if let token, secret.matches(token.utf8) { return true }
        self.server.authThrottle.recordFailure(address)
        self.server.metrics.authFailure("http")
        let message = token == nil
            ? "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer YOUR_KEY'."
            : "Incorrect API key provided."
        self.error(context, head, .unauthorized, message, type: "invalid_request_error", code: "invalid_api_key")
        return false
    }

    /// The token of `Authorization: Bearer <token>` (scheme case-insensitive), or nil.
    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "Authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // IdleStateHandler (NodeServer): an HTTP connection silent for the idle timeout is closed.
        if event is IdleStateHandler.IdleStateEvent { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}
