import EmbRedis
import Foundation
import Testing

@Suite(.serialized) struct RedisL2Tests {
    static let dim = 384
    static func record(_ seed: UInt8) -> L2Record {
        L2Record(createdAt: 1_700_000_000.5, delta: 0.004, vector: (0..<dim * 4).map { UInt8(truncatingIfNeeded: Int($0) &+ Int(seed)) })
    }

    /// Waits (bounded) until `condition` holds.
    static func eventually(_ seconds: Double = 5, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Once more after the deadline: a test starved of the cooperative pool (every suite runs at
        // once, slower still under a sanitizer) may wake past it with the condition long true.
        return await condition()
    }

    @Test func recordsRoundTripAndMalformedOnesDecodeToNil() {
        let r = Self.record(7)
        let bytes = r.encode()
        #expect(bytes.count == L2Record.headerBytes + Self.dim * 4)
        #expect(bytes.withUnsafeBytes { L2Record.decode($0, expectedDim: Self.dim) } == r)
        var bad: [[UInt8]] = [[], Array(bytes.prefix(10)), Array(bytes.dropLast()), bytes + [0]]
        var magic = bytes; magic[0] = UInt8(ascii: "X"); bad.append(magic)
        var version = bytes; version[4] = 9; bad.append(version)
        var dtype = bytes; dtype[5] = 1; bad.append(dtype)
        var dim = bytes; dim[6] = 0; bad.append(dim)
        for b in bad { #expect(b.withUnsafeBytes { L2Record.decode($0, expectedDim: Self.dim) } == nil) }
        #expect(bytes.withUnsafeBytes { L2Record.decode($0, expectedDim: 128) } == nil)
    }

    @Test func writesAreReadBackWithTheirTTLAndAbsentOrGarbageValuesAreMisses() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let l2 = RedisL2(RedisL2Configuration(host: "127.0.0.1", port: server.port))
        #expect(await Self.eventually { l2.stats.isUp })
        l2.enqueueSet("a", Self.record(1), ttlSeconds: 3600)
        l2.enqueueSet("b", Self.record(2), ttlSeconds: 3600)
        #expect(await Self.eventually { l2.stats.writesDone == 2 })
        _ = await l2.raw(["SET", "emb:garbage", "not a record"])
        let got = await l2.mget(["a", "missing", "b", "garbage"])
        #expect(got == [Self.record(1), nil, Self.record(2), nil])
        #expect(l2.stats.undecodable == 1)
        let ttl = Int(server.cli(["TTL", "emb:a"])) ?? -1
        #expect(ttl > 3500 && ttl <= 3600)
        #expect(await l2.exists("a") == true)
        #expect(await l2.delete(["a", "missing"]) == 1)
        #expect(await l2.exists("a") == false)
        await l2.shutdown()
    }

    @Test func aDeadRedisAnswersNilPromptlyAndIsUsedAgainWhenItReturns() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let l2 = RedisL2(RedisL2Configuration(host: "127.0.0.1", port: server.port))
        #expect(await Self.eventually { l2.stats.isUp })
        server.stop()
        // The first command after the crash finds out; later ones are answered nil at once.
        var answered = 0
        let start = Date()
        for _ in 0..<50 where await l2.mget(["a"]) == nil { answered += 1 }
        #expect(answered == 50)
        #expect(Date().timeIntervalSince(start) < 2, "calls while Redis is down must not wait")
        let began = Date()
        for i in 0..<100 { l2.enqueueSet("k\(i)", Self.record(3), ttlSeconds: 60) }
        #expect(Date().timeIntervalSince(began) < 0.5, "enqueueSet never blocks")
        try server.start()
        #expect(await Self.eventually(10) { l2.stats.isUp })
        #expect(await Self.eventually { await l2.mget(["k1"]) == [Self.record(3)] }, "queued writes land once Redis is back")
        #expect(l2.stats.reconnects >= 2)
        await l2.shutdown()
    }

    @Test func aFullWriteQueueDropsAndCounts() async {
        var config = RedisL2Configuration(host: "127.0.0.1", port: RedisServerProcess.freePort())
        config.writeQueueLimit = 10
        let l2 = RedisL2(config)  // nothing listens there: writes wait in the queue
        for i in 0..<25 { l2.enqueueSet("k\(i)", Self.record(4), ttlSeconds: 60) }
        #expect(l2.stats.queueDepth == 10)
        #expect(l2.stats.writesDropped == 15)
        await l2.shutdown(deadline: 0.1)
    }

    @Test func shutdownDrainsQueuedWrites() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let l2 = RedisL2(RedisL2Configuration(host: "127.0.0.1", port: server.port))
        #expect(await Self.eventually { l2.stats.isUp })
        for i in 0..<500 { l2.enqueueSet("d\(i)", Self.record(5), ttlSeconds: 60) }
        await l2.shutdown()
        #expect(server.cli(["DBSIZE"]) == "500")
    }
}

/// L2 against a Redis that wants a login: `requirepass`, and an ACL user with the default user off.
@Suite(.serialized) struct RedisL2AuthTests {
    @Test func aPasswordIsSentWithAuthBeforeSelectOnEveryConnection() async throws {
        let server = try RedisServerProcess(extraArguments: ["--requirepass", "l2-pass"], cliLogin: ["-a", "l2-pass"])
        defer { server.stop() }
        var c = RedisL2Configuration(host: "127.0.0.1", port: server.port, db: 3)
        c.credentials = RedisCredentials(username: nil, password: "l2-pass")
        (c.connectTimeout, c.commandTimeout) = (1, 1)  // patient: under a sanitizer everything is slower
        let l2 = RedisL2(c)
        #expect(await RedisL2Tests.eventually(15) { l2.stats.isUp })
        l2.enqueueSet("k", RedisL2Tests.record(3), ttlSeconds: 60)
        #expect(await RedisL2Tests.eventually(15) { l2.stats.writesDone == 1 })
        #expect(await l2.mget(["k"]) == [RedisL2Tests.record(3)])
        #expect(server.cli(["-n", "3", "EXISTS", "emb:k"]) == "1")
        await l2.shutdown()
    }

    @Test func anACLUserLogsInWithItsName() async throws {
        let server = try RedisServerProcess(extraArguments: ["--user", "default", "off", "--user", "embc", "on", ">acl-pass", "~*", "&*", "+@all"],
                                            cliLogin: ["--user", "embc", "--pass", "acl-pass"])
        defer { server.stop() }
        var c = RedisL2Configuration(host: "127.0.0.1", port: server.port)
        c.credentials = RedisCredentials(username: "embc", password: "acl-pass")
        (c.connectTimeout, c.commandTimeout) = (1, 1)
        let l2 = RedisL2(c)
        #expect(await RedisL2Tests.eventually(15) { l2.stats.isUp })
        l2.enqueueSet("u", RedisL2Tests.record(4), ttlSeconds: 60)
        #expect(await RedisL2Tests.eventually(15) { l2.stats.writesDone == 1 })
        #expect(server.cli(["EXISTS", "emb:u"]) == "1")
        await l2.shutdown()
    }

    @Test func aWrongPasswordLeavesL2DownAndSaysWhy() async throws {
        let server = try RedisServerProcess(extraArguments: ["--requirepass", "right"], cliLogin: ["-a", "right"])
        defer { server.stop() }
        let result = RedisConnection.connect(host: "127.0.0.1", port: server.port, db: 0, credentials: RedisCredentials(username: nil, password: "wrong"),
                                             connectTimeout: 1, commandTimeout: 1)
        guard case .failure(let e) = result else {
            Issue.record("a wrong password connected")
            return
        }
        #expect(e.code == .authRefused && !e.description.contains("wrong"))
        var c = RedisL2Configuration(host: "127.0.0.1", port: server.port)
        c.credentials = RedisCredentials(username: nil, password: "wrong")
        let l2 = RedisL2(c)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!l2.stats.isUp)
        #expect(await l2.mget(["x"]) == nil)
        await l2.shutdown()
    }

    @Test func credentialsNeverPrintThePassword() {
        let c = RedisCredentials(username: "embc", password: "p4ss-w0rd")
        for text in ["\(c)", String(reflecting: c), "\(RedisConnectError(.authRefused, "WRONGPASS invalid"))"] {
            #expect(!text.contains("p4ss-w0rd"), "\(text)")
        }
        var dumped = ""
        dump(c, to: &dumped)
        #expect(!dumped.contains("p4ss-w0rd"))
    }
}
