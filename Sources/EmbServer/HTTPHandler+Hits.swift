// POST /v1/embeddings whose texts are all cached, answered on the event loop as RESP hits are: each
// text's key and token count come from the alias table (one read), its vector from L1 (or the hot
// cache, for a key another node owns) straight into the reply body. No task, no thread hop. On the
// first unknown text or miss nothing has been sent, and the request takes the full async path.
import EmbNode
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    /// True when the reply went out from cache; false (nothing sent, nothing counted) otherwise.
    func serveAllHits(_ texts: [[UInt8]], model: String, base64: Bool, head: HTTPRequestHead, context: ChannelHandlerContext) -> Bool {
        let node = self.server.node
        guard texts.count <= node.maxBatchTexts else { return false }
        let start = node.now()
        var body = context.channel.allocator.buffer(capacity: 64 + texts.count * (base64 ? 2_100 : 4_700))
        body.writeEmbeddingsHeader()
        var tokens = 0
        var hot = 0
        for (i, text) in texts.enumerated() {
            let served: Tier? = text.withUnsafeBytes { raw in
                guard let known = node.knownKeyAndTokens(textHash: EmbeddingNode.textHash(raw)) else { return nil }
                tokens += known.tokens
                return node.serveKnown(known.key, text: raw, now: start) { vector in body.writeEmbedding(index: i, vector, base64: base64) }
            }
            switch served {
            case .hot?: hot += 1
            case .some: break
            case nil: return false
            }
        }
        body.writeEmbeddingsFooter(model: model, tokens: tokens)
        let seconds = node.now() - start
        node.countServed(.l1, texts.count - hot)
        node.countServed(.hot, hot)
        if texts.count > hot { self.hitMetrics.l1.increment(by: Int64(texts.count - hot)) }
        if hot > 0 { self.hitMetrics.hot.increment(by: Int64(hot)) }
        self.hitsServed &+= 1
        if self.hitsServed & 15 == 0 { self.hitMetrics.l1Latency.record(.nanoseconds(Int64(seconds * 1e9))) }
        self.respond(context, head, .ok, buffer: body, contentType: "application/json")
        return true
    }
}
