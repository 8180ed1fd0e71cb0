// POST /v1/embeddings whose texts are all cached, answered on the event loop as RESP hits are: each
// text's key and token count come from the alias table (one read), its vector from L1 (or the hot
// cache, for a key another node owns) straight into the reply body. No task, no thread hop. On the
// first unknown text or miss nothing has been sent, and the request takes the full async path.
import EmbHash
import EmbNode
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    /// True when the reply went out from cache; false (nothing sent, nothing counted) otherwise.
    /// The request and its hits are charged to `account` (savings ledger) once it is answered.
    func serveAllHits(_ texts: [[UInt8]], node: EmbeddingNode, model: String, base64: Bool, account: CallerAccount, head: HTTPRequestHead,
                      context: ChannelHandlerContext) -> Bool {
        guard texts.count <= node.maxBatchTexts else { return false }
        let start = node.now()
        // 4/3 bytes of base64 or ~4 of decimal text (~16 a float) per vector byte, plus the JSON around them.
        var body = context.channel.allocator.buffer(capacity: 64 + texts.count * (64 + (base64 ? node.vectorBytes * 4 / 3 : node.vectorBytes * 4)))
        body.writeEmbeddingsHeader()
        var tokens = 0
        var hot = 0
        var hotTokens = 0
        var keys: [CacheKey] = []
        var answers: [(Tier, CacheKey, Int)] = []
        keys.reserveCapacity(texts.count)
        for (i, text) in texts.enumerated() {
            let served: (Tier, CacheKey, Int)? = text.withUnsafeBytes { raw in
                guard let known = node.knownKeyAndTokens(textHash: EmbeddingNode.textHash(raw)),
                    let tier = node.serveKnown(known.key, text: raw, now: start, { vector in body.writeEmbedding(index: i, vector, base64: base64) })
                else { return nil }
                return (tier, known.key, known.tokens)
            }
            guard let (tier, key, n) = served else { return false }
            tokens += n
            keys.append(key)
            if tier == .hot {
                hot += 1
                hotTokens += n
            }
            if node.savings.audit != nil { answers.append((tier, key, n)) }
        }
        body.writeEmbeddingsFooter(model: model, tokens: tokens)
        let seconds = node.now() - start
        node.countServed(.l1, texts.count - hot)
        node.countServed(.hot, hot)
        self.charge(account, keys: keys, l1: (texts.count - hot, tokens - hotTokens), hot: (hot, hotTokens), now: start)
        if let audit = node.savings.audit {
            for (tier, key, n) in answers {
                audit.write(time: start, caller: account.name, key: key, tier: tier, latencyMicros: Int(seconds * 1e6), tokens: n)
            }
        }
        if texts.count > hot { self.hitMetrics.l1.increment(by: Int64(texts.count - hot)) }
        if hot > 0 { self.hitMetrics.hot.increment(by: Int64(hot)) }
        self.hitsServed &+= 1
        if self.hitsServed & 15 == 0 { self.hitMetrics.l1Latency.record(.nanoseconds(Int64(seconds * 1e9))) }
        self.respond(context, head, .ok, buffer: body, contentType: "application/json")
        return true
    }
}
