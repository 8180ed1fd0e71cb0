import EmbCluster
import Testing

@Suite struct ClusterRedisAddressTests {
    typealias A = ClusterFile.RedisAddress

    @Test func aClusterAddressListsItsSeedsAndKeepsItsLogin() throws {
        let a = try A.parse("cluster://10.0.0.5:7000,10.0.0.6:7001,cache.internal:7002")
        #expect(a.isCluster && a.db == 0 && a.host == "10.0.0.5" && a.port == 7000)
        #expect(a.clusterSeeds == [.init(host: "10.0.0.5", port: 7000), .init(host: "10.0.0.6", port: 7001), .init(host: "cache.internal", port: 7002)])
        #expect(a.description == "cluster://10.0.0.5:7000,10.0.0.6:7001,cache.internal:7002")
        let acl = try A.parse("cluster://embc:p%40ss@127.0.0.1:7000")
        #expect(acl.username == "embc" && acl.password == "p@ss" && acl.clusterSeeds.count == 1)
        #expect(acl.description == "cluster://embc:<redacted>@127.0.0.1:7000")
    }

    @Test func aPlainAddressIsNotACluster() throws {
        #expect(try !A.parse("127.0.0.1:6379").isCluster)
        #expect(try !A.parse("redis://127.0.0.1:6379/1").isCluster)
    }

    @Test func aBadClusterAddressIsRefusedWithoutEchoingIt() {
        for bad in ["cluster://:pw-secret@h:1/2", "cluster://:pw-secret@h:1,", "cluster://:pw-secret@h:1,h", "cluster://:pw-secret@",
                    "cluster://:pw-secret@h:0", "cluster://:pw-secret@:7000"] {
            let e = #expect(throws: RedisAddressError.self) { try A.parse(bad) }
            #expect(!(e?.description.contains("pw-secret") ?? true), "\(bad)")
        }
        let db = #expect(throws: RedisAddressError.self) { try A.parse("cluster://h:7000/1") }
        #expect(db?.description.contains("database 0") == true)
    }

    @Test func theClusterFileTakesAClusterAddress() throws {
        let text = """
            cluster:
              name: t
              secret: null
            nodes:
              - id: a
                resp: 127.0.0.1:7001
                http: 127.0.0.1:8001
                redis: cluster://127.0.0.1:7100,127.0.0.1:7101
                redis_password_env: RP
            """
        let f = try ClusterFile.parse(text, environment: ["RP": "rp"])
        #expect(f.nodes[0].redis?.clusterSeeds.count == 2 && f.nodes[0].redis?.password == "rp")
    }
}
