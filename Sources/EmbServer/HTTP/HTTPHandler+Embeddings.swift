// POST /v1/embeddings -> OpenAI's list of embeddings with usage. The body is parsed and checked by
// EmbeddingsRequest; the model by the LaneResolver RESP uses too. When every text is cached, the
// response is written on the event loop by the AllHitServer RESP's MEMBED uses, into a buffer
// that becomes the whole response (HTTPResponse.frameJSON), charged by Accounting at the lane's
// price; the rest takes the full lookup path off the loop.
import EmbHash
import EmbNode
import Foundation
import NIOCore
import NIOHTTP1
import Prometheus

extension HTTPHandler {
    func embeddings(_ request: Request, context: ChannelHandlerContext) -> HTTPAnswer {
        let parsed: EmbeddingsRequest
        switch request.body.withUnsafeReadableBytes(EmbeddingsRequest.parse) {
        case .success(let ok): parsed = ok
        case .failure(let refusal):
            return .now(.error(.badRequest, refusal.message, type: "invalid_request_error", param: refusal.param, code: refusal.code))
        }
        let resolution: EmbeddingsResolution
        switch self.resolve(parsed, user: parsed.user ?? request.head.headers.first(name: "X-Caller")) {
        case .success(let resolved): resolution = resolved
        case .failure(let unknown):
            return .now(.error(.notFound, unknown.message, type: "invalid_request_error", param: "model", code: "model_not_found"))
        }
        let selection = resolution.selection
        let width: OutputWidth?
        switch OutputWidth.resolve(parsed.dimensions, lane: selection.lane) {
        case .success(let resolved): width = resolved
        case .failure(let refusal): return .now(.error(.badRequest, refusal.message, type: "invalid_request_error", param: "dimensions"))
        }
        let model = parsed.model ?? selection.lane.name  // echoed as the client named it
        self.embeddingsRequests.increment()
        resolution.callerRequests.increment()
        let lane = selection.lane.node
        let texts = parsed.texts.map { selection.prefix + Array($0.utf8) }
        let account = resolution.account
        // A cut width takes the async path, which cuts each vector; the cache holds full vectors either way.
        if width == nil, var body = self.serveAllHits(texts, lane: lane, model: model, base64: parsed.base64, account: account) {
            let keepAlive = request.head.isKeepAlive
            HTTPResponse.frameJSON(&body, version: request.head.version, keepAlive: keepAlive)
            return .framed(body, keepAlive: keepAlive)
        }
        var tally = Tally()
        tally.requests = 1
        account.record(tally, now: lane.now())
        let (metrics, base64) = (self.server.metrics, parsed.base64)
        return .later { await Self.compute(texts, lane: lane, metrics: metrics, model: model, base64: base64, account: account, width: width) }
    }

    /// The lane, caller label, savings account and caller counter of a request: the connection's
    /// last ones when it names the same model, input type and user (a client sends the same ones
    /// every time, and resolving them takes a lock each: caller names, the ledger, the metrics).
    private func resolve(_ parsed: EmbeddingsRequest, user: String?) -> Result<EmbeddingsResolution, UnknownModel> {
        if let last = self.resolved, last.model == parsed.model, last.inputType == parsed.inputType, last.user == user { return .success(last) }
        return self.server.lanes.resolve(model: parsed.model, inputType: parsed.inputType).map { selection in
            let caller = self.server.callerLabel(user)
            let resolution = EmbeddingsResolution(
                model: parsed.model, inputType: parsed.inputType, user: user, selection: selection,
                account: selection.lane.node.savings.account(selection.lane.accountName(for: caller)),
                callerRequests: self.server.metrics.callerCounter(caller))
            self.resolved = resolution
            self.knownKeys.forgetAll()  // its keys are the old lane's, its noted minutes the old caller's
            return resolution
        }
    }

    /// The response body when every text is an L1 (or hot-cache) hit, with the request and its hits
    /// charged to `account` at `lane`'s price; nil (nothing counted) otherwise.
    private func serveAllHits(_ texts: [[UInt8]], lane: EmbeddingNode, model: String, base64: Bool, account: CallerAccount) -> ByteBuffer? {
        guard texts.count <= lane.maxBatchTexts else { return nil }
        let now = lane.now()
        let sampled = self.accounting.sampleHit()
        let began = sampled || lane.savings.audit != nil ? DispatchTime.now().uptimeNanoseconds : 0
        // 4/3 bytes of base64 or ~4 of decimal text (~16 a float) per vector byte, plus the JSON around them.
        var body = HTTPResponse.bodyBuffer(capacity: 64 + texts.count * (64 + (base64 ? lane.vectorBytes * 4 / 3 : lane.vectorBytes * 4)))
        body.writeEmbeddingsHeader()
        let minute = OverlapSample.minute(now)
        var notes: [CacheKey] = []
        let served = AllHitServer.serve(count: texts.count, into: &body, keepAnswers: lane.savings.audit != nil) { i, buffer in
            texts[i].withUnsafeBytes { raw in
                let known = self.knownKeys.key(of: raw, in: lane, minute: minute, notes: &notes)
                return AllHitServer.hit(known, text: raw, lane: lane, now: now, owned: false, into: &buffer) { vector, out in
                    out.writeEmbedding(index: i, vector, base64: base64)
                }
            }
        }
        guard let served else { return nil }
        body.writeEmbeddingsFooter(model: model, tokens: served.counts.tokens)
        self.accounting.chargeHits(served.counts, requests: 1, to: account, lane: lane, now: now)
        // The overlap sample hears of a key once a minute per connection (KnownKeyMemo), as on RESP.
        if !notes.isEmpty { lane.savings.overlap.note(notes, caller: account.bit, minute: minute) }
        if began > 0 {
            let elapsed = DispatchTime.now().uptimeNanoseconds - began
            if sampled { self.accounting.l1Latency.record(.nanoseconds(Int64(elapsed))) }
            if let audit = lane.savings.audit {
                for (tier, known) in served.answers {
                    audit.write(time: now, caller: account.name, key: known.key, tier: tier, latencyMicros: Int(elapsed / 1000), tokens: known.tokens)
                }
            }
        }
        return body
    }

    /// The full lookup path off the event loop: the response, or the node's error in OpenAI's shape.
    static func compute(_ texts: [[UInt8]], lane: EmbeddingNode, metrics: NodeMetrics, model: String, base64: Bool,
                        account: CallerAccount, width: OutputWidth?) async -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let results = try await lane.embed(texts, account: account)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for tier in Tier.allCases {
                let n = results.filter { $0.tier == tier }.count
                if n > 0 { metrics.answered(tier, count: n, seconds: seconds) }
            }
            // The texts are known now (embed filed each with its token count), so no tokenizing.
            let tokens = texts.reduce(0) { sum, t in sum + (t.withUnsafeBytes { lane.tokenCount($0) } ?? 0) }
            let vectors = width.map { w in results.map { $0.vector.withUnsafeBytes(w.cut) } } ?? results.map(\.vector)
            return HTTPResponse(status: .ok, contentType: "application/json", body: Self.render(vectors, model: model, base64: base64, tokens: tokens))
        } catch let error as NodeError {
            let status: HTTPResponseStatus
            switch error {
            case .busy: status = .serviceUnavailable
            case .invalidUTF8: status = .badRequest
            case .textTooLarge, .tooManyTexts: status = .payloadTooLarge
            }
            return .error(status, error.redisError, type: error == .busy ? "server_error" : "invalid_request_error", param: "input")
        } catch {
            return .error(.internalServerError, "internal error", type: "server_error")
        }
    }

    /// The response JSON, written by hand (ByteBuffer+EmbeddingsJSON.swift).
    static func render(_ vectors: [[UInt8]], model: String, base64: Bool, tokens: Int) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeEmbeddingsHeader()
        for (i, vector) in vectors.enumerated() {
            vector.withUnsafeBytes { out.writeEmbedding(index: i, $0, base64: base64) }
        }
        out.writeEmbeddingsFooter(model: model, tokens: tokens)
        return out
    }
}

/// A request's model / input type / user, and what they resolved to (HTTPHandler.resolved).
struct EmbeddingsResolution {
    let model: String?
    let inputType: String?
    let user: String?
    let selection: ModelSelection
    let account: CallerAccount
    let callerRequests: Counter
}
