// GET /v1/models and GET /v1/models/{id} (ModelList). An id may hold slashes
// ("sentence-transformers/all-MiniLM-L6-v2"), so everything after the prefix is the id, percent-decoded.
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    /// Answers the request when `path` is a models route; false otherwise.
    func routeModels(_ head: HTTPRequestHead, path: String, context: ChannelHandlerContext) -> Bool {
        let prefix = "/v1/models"
        guard path == prefix || path.hasPrefix(prefix + "/") else { return false }
        guard head.method == .GET else {
            self.error(context, head, .methodNotAllowed, "method \(head.method) not allowed on \(path)", type: "invalid_request_error")
            return true
        }
        let list = ModelList(catalog: self.server.models, created: Int(self.server.startedAt.timeIntervalSince1970))
        if path == prefix || path == prefix + "/" {
            self.respond(context, head, .ok, json: list.listJSON())
            return true
        }
        let raw = String(path.dropFirst(prefix.count + 1))
        let id = raw.removingPercentEncoding ?? raw
        if let json = list.modelJSON(id) {
            self.respond(context, head, .ok, json: json)
        } else {
            self.error(context, head, .notFound, "The model '\(id.prefix(128))' does not exist; this node serves \(self.server.models.servedNames.joined(separator: ", "))",
                       type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        return true
    }
}
