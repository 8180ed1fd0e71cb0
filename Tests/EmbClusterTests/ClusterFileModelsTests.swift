// The cluster file's model list: `models:` with names, aliases, prefixes and per-model cache settings;
// `model:` as before; and the mistakes refused with their line.
import EmbCluster
import Testing

@Suite struct ClusterFileModelsTests {
    static func file(models: String) -> String {
        """
        cluster:
          name: t
        \(models)
        nodes:
          - id: a
            resp: 127.0.0.1:7001
            http: 127.0.0.1:8001
        """
    }

    static let two = Self.file(models: """
        models:
          - name: all-MiniLM-L6-v2
            path: models/all-MiniLM-L6-v2
            aliases: [sentence-transformers/all-MiniLM-L6-v2]
          - name: e5-base-v2
            path: models/e5
            query_prefix: "query: "
            passage_prefix: "passage: "
            ttl: 12h
            l1_max_bytes: 64MiB
        """)

    @Test func aModelListIsReadInOrderWithItsSettings() throws {
        let f = try ClusterFile.parse(Self.two)
        #expect(f.models.map(\.name) == ["all-MiniLM-L6-v2", "e5-base-v2"])
        #expect(f.modelPath == "models/all-MiniLM-L6-v2" && f.models[0].aliases == ["sentence-transformers/all-MiniLM-L6-v2"])
        let e5 = f.models[1]
        #expect(e5.path == "models/e5" && e5.queryPrefix == "query: " && e5.passagePrefix == "passage: ")
        #expect(e5.ttlSeconds == 12 * 3600 && e5.l1MaxBytes == 64 << 20 && f.warnings.isEmpty)
    }

    @Test func matryoshkaWidthsAreReadWidestFirst() throws {
        let f = try ClusterFile.parse(Self.file(models: "models:\n  - name: x\n    path: a\n    matryoshka_dims: [128, 256, 64]"))
        #expect(f.models[0].matryoshkaDims == [256, 128, 64])
        #expect(try ClusterFile.parse(Self.two).models[1].matryoshkaDims.isEmpty)
    }

    @Test func theSingleModelSectionStillNamesTheDefault() throws {
        let f = try ClusterFile.parse(Self.file(models: "model:\n  path: models/all-MiniLM-L6-v2"))
        #expect(f.models.count == 1 && f.models[0].name == "all-MiniLM-L6-v2")
        #expect(f.models[0].aliases == ["sentence-transformers/all-MiniLM-L6-v2"])
        #expect(try ClusterFile.parse(Self.file(models: "")).models[0].path == "models/all-MiniLM-L6-v2")
    }

    static let mistakes: [(String, String)] = [
        ("model:\n  path: a\nmodels:\n  - name: x\n    path: b", "either 'model'"),
        ("models: []", "list of 1 to 16"),
        ("models:\n  - path: b", "needs a 'name' and a 'path'"),
        ("models:\n  - name: x\n    path: a\n  - name: x\n    path: b", "used twice"),
        ("models:\n  - name: x\n    path: a\n  - name: y\n    path: b\n    aliases: [x]", "used twice"),
        ("models:\n  - name: \"has space\"\n    path: a", "must be 1 to 128"),
        ("models:\n  - name: x:query\n    path: a", "must be 1 to 128"),
        ("models:\n  - name: x\n    path: a\n    ttl: soon", "not a duration"),
        ("models:\n  - name: x\n    path: a\n    l1_max_bytes: lots", "not a size"),
        ("models:\n  - name: x\n    path: a\n    matryoshka_dims: 128", "matryoshka_dims must be"),
        ("models:\n  - name: x\n    path: a\n    matryoshka_dims: []", "matryoshka_dims must be"),
        ("models:\n  - name: x\n    path: a\n    matryoshka_dims: [128, 0]", "matryoshka_dims must be"),
        ("models:\n  - name: x\n    path: a\n    matryoshka_dims: [128, 128]", "matryoshka_dims must be"),
        ("models:\n  - name: x\n    path: a\n    matryoshka_dims: [128, wide]", "matryoshka_dims must be"),
    ]

    @Test(arguments: 0..<Self.mistakes.count) func aBadModelListIsRefusedWithItsLine(_ i: Int) {
        let (yaml, expected) = Self.mistakes[i]
        do {
            _ = try ClusterFile.parse(Self.file(models: yaml))
            Issue.record("accepted: \(yaml)")
        } catch let e as ClusterFileError {
            #expect(e.message.contains(expected), "\(e)")
            #expect(e.line != nil)
        } catch {
            Issue.record("\(error)")
        }
    }
}
