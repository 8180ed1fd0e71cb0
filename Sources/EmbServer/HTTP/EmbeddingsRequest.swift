// The body of POST /v1/embeddings, parsed and checked apart from any connection, so the HTTP handler
// and the fuzz harness (Tests/Fuzz, `http`) run the same code: {"input": string | [string],
// "model"?, "encoding_format"?: "float" | "base64", "user"?, "dimensions"?, "input_type"?}. Token arrays as input (also allowed by
// OpenAI, and LangChain's default) are refused with a 400 that names the fix: ids of another
// tokenizer cannot be embedded here, and guessing would serve wrong vectors.
import Foundation

/// A well-formed embeddings request. Which models are served is the handler's question (a 404).
public struct EmbeddingsRequest: Sendable, Equatable {
    public var texts: [String]
    /// The `model` field; nil: the node's default model.
    public var model: String?
    public var base64: Bool
    /// OpenAI's `user` field: the caller label, when given.
    public var user: String?
    /// `input_type`: "query" or "passage" ("document" is read as "passage"), selecting the model's
    /// prefix; nil when absent.
    public var inputType: String? = nil
    /// OpenAI's `dimensions`: the width asked for (a positive integer); nil when absent or null.
    /// Whether the model can give it is the handler's question (OutputWidth).
    public var dimensions: Int? = nil

    /// Why a body is refused: always a 400, in OpenAI's error shape.
    public struct Refusal: Error, Equatable, Sendable {
        public var message: String
        public var param: String?
        public var code: String?
    }

    /// Why token-id input is refused, and the fix for the client that sends it by default.
    public static let tokenIDsRefusal = "'input' is an array of token ids. This node embeds text with its own WordPiece tokenizer; "
        + "ids from another tokenizer (tiktoken's cl100k) would give wrong vectors, so send the texts as strings. "
        + "LangChain's OpenAIEmbeddings sends token ids by default: pass check_embedding_ctx_length=False."

    /// The request in `body`, or the first thing wrong with it.
    public static func parse(_ body: [UInt8]) -> Result<EmbeddingsRequest, Refusal> {
        body.withUnsafeBytes(Self.parse)
    }

    /// The request in `body` (read in place), or the first thing wrong with it.
    static func parse(_ body: UnsafeRawBufferPointer) -> Result<EmbeddingsRequest, Refusal> {
        // The common flat shape without Foundation's parser (FlatJSONObject); anything else through it.
        guard let object = FlatJSONObject.parse(body) ?? (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) else {
            return .failure(Refusal(message: "the body must be a JSON object", param: nil, code: nil))
        }
        var texts: [String]
        switch object["input"] {
        case let s as String: texts = [s]
        case let a as [Any] where a.allSatisfy({ $0 is String }): texts = a.map { $0 as! String }
        case nil: return .failure(Refusal(message: "'input' is required", param: "input", code: nil))
        case let a as [Any] where Self.isTokenIDs(a):
            return .failure(Refusal(message: Self.tokenIDsRefusal, param: "input", code: "token_ids_not_supported"))
        default:
            return .failure(Refusal(message: "'input' must be a string or an array of strings", param: "input", code: nil))
        }
        guard !texts.isEmpty else {
            return .failure(Refusal(message: "'input' must not be an empty array", param: "input", code: nil))
        }
        let format = object["encoding_format"] as? String ?? "float"
        guard format == "float" || format == "base64" else {
            return .failure(Refusal(message: "'encoding_format' must be 'float' or 'base64'", param: "encoding_format", code: nil))
        }
        var inputType: String? = nil
        if let given = object["input_type"] {
            guard let kind = given as? String, ["query", "passage", "document"].contains(kind) else {
                return .failure(Refusal(message: "'input_type' must be 'query', 'passage' or 'document'", param: "input_type", code: nil))
            }
            inputType = kind == "document" ? "passage" : kind
        }
        if let given = object["model"], !(given is String) {
            return .failure(Refusal(message: "'model' must be a string", param: "model", code: nil))
        }
        var dimensions: Int? = nil
        if let given = object["dimensions"], !(given is NSNull) {
            guard Self.isInteger(given), let n = (given as? NSNumber)?.intValue, n >= 1 else {
                return .failure(Refusal(message: "'dimensions' must be a positive integer", param: "dimensions", code: nil))
            }
            dimensions = n
        }
        return .success(EmbeddingsRequest(texts: texts, model: object["model"] as? String, base64: format == "base64",
                                          user: object["user"] as? String, inputType: inputType, dimensions: dimensions))
    }

    /// `[1, 2, 3]` or `[[1, 2], [3]]`: OpenAI's token-array input forms (integers; JSONSerialization
    /// types true/false as "c" and fractions as "d", and neither is a token id).
    static func isTokenIDs(_ input: [Any]) -> Bool {
        let isNumber = Self.isInteger
        guard let first = input.first else { return false }
        if isNumber(first) { return input.allSatisfy(isNumber) }
        return input.allSatisfy { ($0 as? [Any]).map { !$0.isEmpty && $0.allSatisfy(isNumber) } ?? false }
    }

    /// A JSON integer (JSONSerialization types true/false as "c" and fractions as "d").
    static func isInteger(_ x: Any) -> Bool {
        guard let n = x as? NSNumber else { return false }
        let type = String(cString: n.objCType)
        return type != "c" && type != "d" && type != "f"
    }
}
