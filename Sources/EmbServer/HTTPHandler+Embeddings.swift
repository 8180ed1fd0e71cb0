// POST /v1/embeddings → OpenAI's list of embeddings with usage. The body is parsed and checked by
// EmbeddingsRequest; cached texts are answered on the event loop (HTTPHandler+Hits), the rest here.
import EmbNode
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    func embeddings(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let request: EmbeddingsRequest
        switch EmbeddingsRequest.parse(self.bodyBytes()) {
        case .success(let parsed): request = parsed
        case .failure(let refusal):
            return self.error(context, head, .badRequest, refusal.message, type: "invalid_request_error", param: refusal.param, code: refusal.code)
        }
        let (texts, base64) = (request.texts, request.base64)
        let models = self.server.models
        let model = request.model ?? models.defaultLane.name
        // `input_type` (query | passage | document, as Cohere's and Voyage's APIs name it) picks the
        // model's prefix like the NAME:query / NAME:passage names do; a model without one embeds as sent.
        guard let named = models.select(model) else {
            return self.error(context, head, .notFound, "The model '\(model.prefix(128))' does not exist; this node serves \(models.servedNames.joined(separator: ", "))",
                              type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        let selection = request.inputType.flatMap { models.select(named.lane.name + ":" + $0) } ?? named
        let width: OutputWidth?
        switch OutputWidth.resolve(request.dimensions, lane: selection.lane) {
        case .success(let resolved): width = resolved
        case .failure(let refusal):
            return self.error(context, head, .badRequest, refusal.message, type: "invalid_request_error", param: "dimensions", code: nil)
        }
        let caller = self.server.callerLabel(request.user ?? head.headers.first(name: "X-Caller"))
        self.server.metrics.request("http", "embeddings", caller: caller)
        let node = selection.lane.node
        let metrics = self.server.metrics
        let utf8 = texts.map { selection.prefix + Array($0.utf8) }
        let account = node.savings.account(selection.lane.accountName(for: caller))
        // A cut width takes the async path, which cuts each vector; the cache holds full vectors either way.
        if width == nil, self.serveAllHits(utf8, node: node, model: model, base64: base64, account: account, head: head, context: context) { return }
        var tally = Tally()
        tally.requests = 1
        account.record(tally, now: node.now())
        self.runAsync(head, context: context) {
            await Self.compute(node: node, metrics: metrics, texts: utf8, model: model, base64: base64, account: account, width: width)
        }
    }

    private func runAsync(_ head: HTTPRequestHead, context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> EmbeddingsOutcome) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let request = self.startTimeout(head, context: context)
        Task {
            let outcome = await work()
            loop.execute {
                let (handler, context) = bound.value
                guard handler.endRequest(request) else { return }  // timed out: already answered 503
                handler.finish(outcome, head: head, context: context)
            }
        }
    }

    /// The response body, or the node's error.
    static func compute(node: EmbeddingNode, metrics: NodeMetrics, texts: [[UInt8]], model: String, base64: Bool,
                        account: CallerAccount? = nil, width: OutputWidth? = nil) async -> EmbeddingsOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let results = try await node.embed(texts, account: account)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for tier in Tier.allCases {
                let n = results.filter { $0.tier == tier }.count
                if n > 0 { metrics.answered(tier, count: n, seconds: seconds) }
            }
            // The texts are known now (embed filed each with its token count), so no tokenizing.
            let tokens = texts.reduce(0) { sum, t in sum + (t.withUnsafeBytes { node.tokenCount($0) } ?? 0) }
            let vectors = width.map { w in results.map { $0.vector.withUnsafeBytes(w.cut) } } ?? results.map(\.vector)
            return .body(Self.render(vectors, model: model, base64: base64, tokens: tokens))
        } catch let error as NodeError {
            return .failed(error)
        } catch {
            return .internalError
        }
    }

    func finish(_ outcome: EmbeddingsOutcome, head: HTTPRequestHead, context: ChannelHandlerContext) {
        switch outcome {
        case .body(let buffer):
            self.respond(context, head, .ok, buffer: buffer, contentType: "application/json")
        case .failed(let error):
            let status: HTTPResponseStatus
            switch error {
            case .busy: status = .serviceUnavailable
            case .invalidUTF8: status = .badRequest
            case .textTooLarge, .tooManyTexts: status = .payloadTooLarge
            }
            self.error(context, head, status, error.redisError, type: error == .busy ? "server_error" : "invalid_request_error", param: "input")
        case .internalError:
            self.error(context, head, .internalServerError, "internal error", type: "server_error")
        }
    }

    private func bodyBytes() -> [UInt8] { Array(self.bodyView) }

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

/// How a POST /v1/embeddings ended.
enum EmbeddingsOutcome: Sendable {
    case body(ByteBuffer)
    case failed(NodeError)
    case internalError
}
