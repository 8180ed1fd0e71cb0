import EmbRedis
import Foundation
import Testing

@Suite struct SlotRoutingTests {
    static let a = RedisNodeAddress(host: "127.0.0.1", port: 7000)
    static let b = RedisNodeAddress(host: "127.0.0.1", port: 7001)
    static let c = RedisNodeAddress(host: "10.0.0.3", port: 7002)

    @Test func crc16IsTheXModemVariantRedisClusterUses() {
        #expect(KeySlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(KeySlot.crc16([]) == 0)
    }

    @Test func keySlotsMatchRedis() {
        // Values from CLUSTER KEYSLOT on redis-server 7.0.
        #expect(KeySlot.of("foo") == 12182)
        #expect(KeySlot.of("bar") == 5061)
        #expect(KeySlot.of("123456789") == 12739)
        #expect(KeySlot.of("emb:00000000000000000000000000000000") == KeySlot.of(Array("emb:00000000000000000000000000000000".utf8)))
    }

    @Test func hashTagsFollowTheSpec() {
        // Only the first {...} counts, and only when it is not empty.
        #expect(KeySlot.of("{user1000}.following") == KeySlot.of("{user1000}.followers"))
        #expect(KeySlot.of("{user1000}.following") == KeySlot.of("user1000"))
        #expect(KeySlot.of("foo{}{bar}") == Int(KeySlot.crc16(Array("foo{}{bar}".utf8))) % 16384)
        #expect(KeySlot.of("foo{{bar}}zap") == KeySlot.of("{bar"))
        #expect(KeySlot.of("foo{bar}{zap}") == KeySlot.of("bar"))
        #expect(KeySlot.of("{}x") == 10595 && KeySlot.of("foo{{bar}}zap") == 4015)  // CLUSTER KEYSLOT's answers
        #expect(KeySlot.of("no{close") == Int(KeySlot.crc16(Array("no{close".utf8))) % 16384)
    }

    @Test func redirectsAreParsed() {
        #expect(ClusterRedirect.parse("MOVED 3999 127.0.0.1:6381") == ClusterRedirect(.moved, slot: 3999, node: .init(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirect.parse("ASK 0 cache-2.internal:7000") == ClusterRedirect(.ask, slot: 0, node: .init(host: "cache-2.internal", port: 7000)))
        #expect(ClusterRedirect.parse("MOVED 16383 ::1:7000")?.node == RedisNodeAddress(host: "::1", port: 7000))
    }

    @Test func otherErrorsAndMalformedRedirectsAreNotRedirects() {
        for text in ["ERR unknown command", "CLUSTERDOWN The cluster is down", "TRYAGAIN Multiple keys request during rehashing",
                     "MOVED", "MOVED 3999", "MOVED x 127.0.0.1:6381", "MOVED 16384 127.0.0.1:6381", "MOVED -1 127.0.0.1:6381",
                     "MOVED 1 127.0.0.1", "MOVED 1 127.0.0.1:0", "MOVED 1 :6381", "ASK 1 h:70000", "moved 1 h:1", "MOVED 1 h:1 extra"] {
            #expect(ClusterRedirect.parse(text) == nil, "\(text)")
        }
    }

    static func node(_ host: String, _ port: Int, _ id: String = "x") -> RedisReply {
        .array([.string(Array(host.utf8)), .integer(port), .string(Array(id.utf8))])
    }

    @Test func aClusterSlotsReplyBecomesAMapWithReplicasKnown() throws {
        let reply = RedisReply.array([
            .array([.integer(0), .integer(5460), Self.node("127.0.0.1", 7000), Self.node("127.0.0.1", 7003)]),
            .array([.integer(5461), .integer(10922), Self.node("127.0.0.1", 7001), Self.node("127.0.0.1", 7004)]),
            .array([.integer(10923), .integer(16383), Self.node("", 7002)]),
        ])
        let map = try SlotMap.parse(clusterSlots: reply, askedNode: Self.c)
        #expect(map.coveredSlots == 16384 && map.masters.count == 3 && map.nodes.count == 5)
        #expect(map.owner(ofSlot: 0) == Self.a && map.owner(ofSlot: 5460) == Self.a && map.owner(ofSlot: 5461) == Self.b)
        #expect(map.owner(ofSlot: 16383) == RedisNodeAddress(host: "10.0.0.3", port: 7002))  // "" = the node asked
        #expect(map.slotsPerMaster == [5461, 5462, 5461])
    }

    @Test func aPartialMapLeavesSlotsUnowned() throws {
        let map = try SlotMap.parse(clusterSlots: .array([.array([.integer(0), .integer(99), Self.node("127.0.0.1", 7000)])]), askedNode: Self.a)
        #expect(map.coveredSlots == 100 && map.owner(ofSlot: 100) == nil)
        #expect(try SlotMap.parse(clusterSlots: .array([]), askedNode: Self.a).coveredSlots == 0)
    }

    @Test func malformedClusterSlotsRepliesAreRefused() {
        let bad: [RedisReply] = [
            .error("ERR This instance has cluster support disabled"), .status("OK"), .array([.integer(1)]),
            .array([.array([.integer(0), .integer(16384), Self.node("h", 1)])]),
            .array([.array([.integer(5), .integer(4), Self.node("h", 1)])]),
            .array([.array([.integer(0), .integer(1)])]),
            .array([.array([.integer(0), .integer(1), .array([.string(Array("h".utf8)), .integer(0)])])]),
            .array([.array([.integer(0), .integer(1), .array([.integer(3), .integer(7000)])])]),
        ]
        for reply in bad { #expect(throws: SlotMapError.self) { try SlotMap.parse(clusterSlots: reply, askedNode: Self.a) } }
        let refused = #expect(throws: SlotMapError.self) { try SlotMap.parse(clusterSlots: bad[0], askedNode: Self.a) }
        #expect(refused?.description.contains("cluster support disabled") == true)
    }

    final class Clock: @unchecked Sendable {
        var now = 1000.0
    }

    @Test func movedUpdatesTheMapAndAskDoesNot() throws {
        let router = SlotRouter(seeds: [Self.a])
        router.install(try SlotMap.parse(clusterSlots: .array([.array([.integer(0), .integer(16383), Self.node("127.0.0.1", 7000)])]), askedNode: Self.a))
        router.note(ClusterRedirect(.ask, slot: 42, node: Self.b))
        #expect(router.map.owner(ofSlot: 42) == Self.a)
        router.note(ClusterRedirect(.moved, slot: 42, node: Self.b))
        #expect(router.map.owner(ofSlot: 42) == Self.b && router.map.owner(ofSlot: 43) == Self.a)
        let s = router.stats
        #expect(s.moved == 1 && s.ask == 1 && s.refreshes == 1 && s.coveredSlots == 16384)
        #expect(s.shards.map(\.node) == [Self.a, Self.b] && s.shards.map(\.slots) == [16383, 1])
    }

    @Test func aFailedNodeRestsAndIsCountedAgainstItsShard() {
        let clock = Clock()
        let router = SlotRouter(seeds: [Self.a], restInterval: 0.5, clock: { clock.now })
        #expect(router.isAvailable(Self.b))
        router.noteFailure(Self.b)
        router.noteFailure(Self.b)
        #expect(!router.isAvailable(Self.b) && router.isAvailable(Self.a))
        clock.now += 0.6
        #expect(router.isAvailable(Self.b))
        #expect(router.stats.shards.first { $0.node == Self.b }?.errors == 2)
        #expect(router.stats.mapAge == nil)
    }
}

/// Cluster mode against servers that cannot give a slot map: L2 stays down, calls are misses at once.
@Suite(.serialized) struct ClusterModeFailureTests {
    @Test func aSeedThatIsNotAClusterNodeKeepsL2DownAndAnswersNil() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        var configuration = RedisL2Configuration(host: "127.0.0.1", port: server.port)
        configuration.clusterSeeds = [configuration.node]
        let l2 = RedisL2(configuration)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!l2.isUp)
        #expect(await l2.mget(["a", "b"]) == nil)
        #expect(await l2.delete(["a"]) == nil)
        #expect(l2.slotRouter?.stats.refreshFailures ?? 0 >= 1)
        await l2.shutdown(deadline: 0)
    }

    @Test func aClusterNodeServingNoSlotsKeepsL2Down() async throws {
        // A cluster-enabled redis-server before `redis-cli --cluster create`: CLUSTER SLOTS is empty.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-noslots-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try RedisServerProcess(port: Self.clusterPort(), extraArguments: ["--cluster-enabled", "yes", "--dir", dir])
        defer { server.stop() }
        var configuration = RedisL2Configuration(host: "127.0.0.1", port: server.port)
        configuration.clusterSeeds = [configuration.node]
        let l2 = RedisL2(configuration)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!l2.isUp && (l2.slotRouter?.stats.refreshFailures ?? 0) >= 1 && l2.slotRouter?.stats.coveredSlots == 0)
        #expect(await l2.mget(["a"]) == nil)
        await l2.shutdown(deadline: 0)
    }

    /// A free port whose cluster bus port (+10000) is free too; Redis refuses ports above 55535.
    static func clusterPort() -> Int {
        for _ in 0..<100 {
            let port = RedisServerProcess.freePort()
            if port <= 55535 { return port }
        }
        return 20000 + Int.random(in: 0..<20000)
    }

    @Test func unreachableSeedsKeepL2Down() async throws {
        var configuration = RedisL2Configuration(host: "127.0.0.1", port: RedisServerProcess.freePort())
        configuration.clusterSeeds = [configuration.node, RedisNodeAddress(host: "127.0.0.1", port: RedisServerProcess.freePort())]
        let l2 = RedisL2(configuration)
        try await Task.sleep(for: .milliseconds(200))
        #expect(!l2.isUp && l2.stats.errors == 0)
        #expect(await l2.mget(["a"]) == nil)
        #expect(l2.stats.errors == 1)
        await l2.shutdown(deadline: 0)
    }
}
