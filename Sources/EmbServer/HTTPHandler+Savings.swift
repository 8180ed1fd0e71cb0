// GET /savings (this node's snapshot as JSON) and GET / (the cluster dashboard, Savings/Dashboard).
import EmbHash
import EmbNode
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    /// Serves the savings routes; false for any other request.
    func routeSavings(_ head: HTTPRequestHead, path: String, context: ChannelHandlerContext) -> Bool {
        guard head.method == .GET else { return false }
        switch path {
        case "/savings":
            self.respond(context, head, .ok, json: self.server.savingsSnapshot().json())
        case "/", "/dashboard":
            let server = self.server
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            Task {
                let cluster = await server.clusterSavings()
                let html = Dashboard.render(cluster, node: server.nodeID)
                loop.execute {
                    let (handler, context) = bound.value
                    handler.respond(context, head, .ok, body: html, contentType: "text/html; charset=utf-8")
                }
            }
        case "/savings/cluster":
            let server = self.server
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            Task {
                let cluster = await server.clusterSavings()
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let json = (try? encoder.encode(cluster)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                loop.execute {
                    let (handler, context) = bound.value
                    handler.respond(context, head, .ok, json: json)
                }
            }
        default:
            return false
        }
        return true
    }
}

extension HTTPHandler {
    /// Charges a request answered on the event loop (all L1 or hot-cache hits) to `account`, and
    /// notes its keys in the overlap sample.
    func charge(_ account: CallerAccount, keys: [CacheKey], l1: (texts: Int, tokens: Int), hot: (texts: Int, tokens: Int), now: Double) {
        let node = self.server.node
        var tally = Tally()
        tally.requests = 1
        tally.add(.l1, texts: l1.texts, tokens: l1.tokens)
        tally.add(.hot, texts: hot.texts, tokens: hot.tokens)
        tally.savedSeconds = Double(l1.tokens + hot.tokens) * node.secondsPerToken
        account.record(tally, now: now)
        node.savings.overlap.note(keys, caller: account.bit, minute: OverlapSample.minute(now))
    }
}
