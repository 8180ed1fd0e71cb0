// The request timeout on HTTP: a POST /v1/embeddings not answered within `limits.requestTimeout`
// (the encoder queue is long, a peer is stalled) is answered 503 — the same answer as a full queue,
// so clients retry — and the late result, if it ever comes, is dropped. One request is in flight per
// connection (NIO's HTTP pipeline handler holds the next until this one is answered).
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    /// Arms the timeout of the request about to be computed; returns its id for `endRequest`.
    func startTimeout(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> Int {
        self.requestIDs += 1
        let id = self.requestIDs
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let seconds = self.server.limits.requestTimeout
        let timer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            let (handler, context) = bound.value
            guard handler.inFlight?.id == id else { return }
            handler.inFlight = nil
            handler.server.metrics.timedOut(1)
            handler.error(context, head, .serviceUnavailable, "request timed out after \(seconds) s; try again later", type: "server_error",
                          code: "timeout")
        }
        self.inFlight = (id, timer)
        return id
    }

    /// True when request `id` is still owed an answer (it did not time out); disarms its timeout.
    func endRequest(_ id: Int) -> Bool {
        guard let current = self.inFlight, current.id == id else { return false }
        current.timer.cancel()
        self.inFlight = nil
        return true
    }
}
