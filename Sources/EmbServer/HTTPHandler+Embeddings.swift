// POST /v1/embeddings: {"input": string | [string], "model"?, "encoding_format"?: "float" | "base64",
// "user"?} → OpenAI's list of embeddings with usage. Token arrays as input (also allowed by OpenAI,
// and LangChain's default) are refused with a 400 that names the fix: ids of another tokenizer
// cannot be embedded here, and guessing would serve wrong vectors.
import EmbNode
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPHandler {
    func embeddings(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(self.bodyBytes())) as? [String: Any] else {
            return self.error(context, head, .badRequest, "the body must be a JSON object", type: "invalid_request_error")
        }
        var texts: [String]
        switch object["input"] {
        case let s as String: texts = [s]
        case let a as [Any] where a.allSatisfy({ $0 is String }): texts = a.map { $0 as! String }
        case nil: return self.error(context, head, .badRequest, "'input' is required", type: "invalid_request_error", param: "input")
        case let a as [Any] where Self.isTokenIDs(a):
            return self.error(context, head, .badRequest, Self.tokenIDsRefusal, type: "invalid_request_error", param: "input", code: "token_ids_not_supported")
        default:
            return self.error(context, head, .badRequest, "'input' must be a string or an array of strings", type: "invalid_request_error", param: "input")
        }
        guard !texts.isEmpty else {
            return self.error(context, head, .badRequest, "'input' must not be an empty array", type: "invalid_request_error", param: "input")
        }
        let model = object["model"] as? String ?? "all-MiniLM-L6-v2"
        guard self.server.modelNames.contains(model) else {
            return self.error(context, head, .notFound, "The model '\(model)' does not exist; this node serves all-MiniLM-L6-v2",
                              type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        let format = object["encoding_format"] as? String ?? "float"
        guard format == "float" || format == "base64" else {
            return self.error(context, head, .badRequest, "'encoding_format' must be 'float' or 'base64'", type: "invalid_request_error", param: "encoding_format")
        }
        let caller = self.server.callerLabel((object["user"] as? String) ?? head.headers.first(name: "X-Caller"))
        self.server.metrics.request("http", "embeddings", caller: caller)
        let node = self.server.node
        let metrics = self.server.metrics
        let utf8 = texts.map { Array($0.utf8) }
        let base64 = format == "base64"
        let account = node.savings.account(caller)
        if self.serveAllHits(utf8, model: model, base64: base64, account: account, head: head, context: context) { return }
        var request = Tally()
        request.requests = 1
        account.record(request, now: node.now())
        self.runAsync(head, context: context) {
            await Self.compute(node: node, metrics: metrics, texts: utf8, model: model, base64: base64, account: account)
        }
    }

    /// Why token-id input is refused, and the fix for the client that sends it by default.
    static let tokenIDsRefusal = "'input' is an array of token ids. This node embeds text with its own WordPiece tokenizer; "
        + "ids from another tokenizer (tiktoken's cl100k) would give wrong vectors, so send the texts as strings. "
        + "LangChain's OpenAIEmbeddings sends token ids by default: pass check_embedding_ctx_length=False."

    /// `[1, 2, 3]` or `[[1, 2], [3]]`: OpenAI's token-array input forms (integers; JSONSerialization
    /// types true/false as "c" and fractions as "d", and neither is a token id).
    static func isTokenIDs(_ input: [Any]) -> Bool {
        func isNumber(_ x: Any) -> Bool {
            guard let n = x as? NSNumber else { return false }
            let type = String(cString: n.objCType)
            return type != "c" && type != "d" && type != "f"
        }
        guard let first = input.first else { return false }
        if isNumber(first) { return input.allSatisfy(isNumber) }
        return input.allSatisfy { ($0 as? [Any]).map { !$0.isEmpty && $0.allSatisfy(isNumber) } ?? false }
    }

    private func runAsync(_ head: HTTPRequestHead, context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> EmbeddingsOutcome) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Task {
            let outcome = await work()
            loop.execute {
                let (handler, context) = bound.value
                handler.finish(outcome, head: head, context: context)
            }
        }
    }

    /// The response body, or the node's error.
    static func compute(node: EmbeddingNode, metrics: NodeMetrics, texts: [[UInt8]], model: String, base64: Bool,
                        account: CallerAccount? = nil) async -> EmbeddingsOutcome {
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
            return .body(Self.render(results.map(\.vector), model: model, base64: base64, tokens: tokens))
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
