// POST /v1/embeddings bodies of every shape mean the same whichever reader takes them: the flat
// shape is read without JSONSerialization (FlatJSONObject), anything else falls through to it.
import EmbServer
import Foundation
import Testing

@Suite struct EmbeddingsBodyShapesTests {
    static func parse(_ body: String) -> EmbeddingsRequest? {
        try? EmbeddingsRequest.parse(Array(body.utf8)).get()
    }

    @Test(arguments: [
        (#"{"input":"hello world","model":"m","encoding_format":"base64","user":"u"}"#, ["hello world"], "m", true, "u"),
        (" {\n\t\"input\" : [ \"a\" , \"b\" ] ,\"model\":\"m\" }\r\n", ["a", "b"], "m", false, nil),
        (#"{"input":"caf\u00e9 \"quoted\"","model":"m"}"#, ["café \"quoted\""], "m", false, nil),  // escapes: JSONSerialization
        (#"{"input":"café — 東京","model":"m"}"#, ["café — 東京"], "m", false, nil),  // UTF-8 without escapes: the flat reader
        (#"{"input":["x"],"model":"m","dimensions":null,"user":"u"}"#, ["x"], "m", false, "u"),  // null: JSONSerialization
        (#"{"input":"x","input":"y","model":"m"}"#, ["y"], "m", false, nil),  // a duplicate key: JSONSerialization's reading
    ] as [(String, [String], String?, Bool, String?)])
    func eachShapeGivesTheRequestItMeans(body: String, texts: [String], model: String?, base64: Bool, user: String?) throws {
        let request = try #require(Self.parse(body), "\(body)")
        #expect(request.texts == texts && request.model == model && request.base64 == base64 && request.user == user)
    }

    @Test(arguments: [
        #"{"input":"x"} trailing"#, #"{"input":"x""#, #"["x"]"#, "{\"input\":\"a\u{01}b\"}", #"{"input":[]}"#,
        #"{"input":"x","encoding_format":"int8"}"#, "",
    ])
    func malformedOrRefusedBodiesStayRefused(body: String) {
        #expect(Self.parse(body) == nil, "\(body)")
    }

    @Test func invalidUTF8IsRefusedNotRepaired() {
        #expect((try? EmbeddingsRequest.parse(Array(#"{"input":""#.utf8) + [0xff, 0xfe] + Array(#""}"#.utf8)).get()) == nil)
    }
}
