// GET /savings (this node's snapshot as JSON) and GET / (the cluster dashboard, Savings/Dashboard).
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
