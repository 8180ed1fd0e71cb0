// POST /v1/embeddings bodies: the `dimensions` field (OpenAI's), read or refused with its param.
import EmbServer
import Testing

@Suite struct EmbeddingsRequestTests {
    static func parse(_ json: String) -> Result<EmbeddingsRequest, EmbeddingsRequest.Refusal> {
        EmbeddingsRequest.parse(Array(json.utf8))
    }

    @Test func dimensionsIsReadWhenAPositiveInteger() throws {
        #expect(try Self.parse(#"{"input": "x", "dimensions": 128}"#).get().dimensions == 128)
        #expect(try Self.parse(#"{"input": "x"}"#).get().dimensions == nil)
        #expect(try Self.parse(#"{"input": "x", "dimensions": null}"#).get().dimensions == nil)
    }

    @Test(arguments: ["0", "-5", "1.5", "true", "\"128\"", "[128]"])
    func anyOtherDimensionsIsRefusedNamingTheParam(_ value: String) {
        guard case .failure(let refusal) = Self.parse(#"{"input": "x", "dimensions": \#(value)}"#) else {
            Issue.record("accepted dimensions \(value)")
            return
        }
        #expect(refusal.param == "dimensions" && refusal.message.contains("positive integer"))
    }
}
