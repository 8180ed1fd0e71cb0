// PeerLink against a real loopback server of the test's own that answers PINGs late, never, or by
// closing: each request's promise must complete exactly once whichever comes first (its reply, its
// deadline, the link closing), and a late reply must never be taken for a later request's.
import EmbRESP
import EmbServer
import NIOCore
import NIOPosix
import Testing

/// Answers each PING with `+R<n>` (n counts from 1) after `delays[n-1]` (the last delay for the rest;
/// nil: never), or closes the connection instead of answering the `closeOn`-th PING. Replies (and
/// the close) keep request order.
final class ScriptedPeer: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let delays: [TimeAmount?]
    let closeOn: Int?
    private var seen = 0
    private var carry = ""
    private var lastReplyAt = NIODeadline.uptimeNanoseconds(0)

    init(delays: [TimeAmount?], closeOn: Int? = nil) { (self.delays, self.closeOn) = (delays, closeOn) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.carry += String(buffer: self.unwrapInboundIn(data))
        while let r = self.carry.range(of: "PING") {
            self.carry.removeSubrange(self.carry.startIndex..<r.upperBound)
            self.seen += 1
            let n = self.seen
            guard let delay = self.delays[min(n, self.delays.count) - 1] else {
                if n == self.closeOn { context.close(promise: nil) }
                continue
            }
            // In order: never before the previous reply. The close comes when its reply would have.
            let at = max(NIODeadline.now() + delay, self.lastReplyAt)
            self.lastReplyAt = at
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let close = n == self.closeOn
            context.eventLoop.scheduleTask(deadline: at) {
                if close { return bound.value.close(promise: nil) }
                bound.value.writeAndFlush(NIOAny(ByteBuffer(string: "+R\(n)\r\n")), promise: nil)
            }
        }
    }
}

@Suite(.serialized) struct PeerLinkRaceTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func server(_ make: @escaping @Sendable () -> ScriptedPeer) async throws -> any Channel {
        try await ServerBootstrap(group: self.group)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(make()) } }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func link(to server: any Channel) -> PeerLink {
        PeerLink(host: "127.0.0.1", port: server.localAddress!.port!, credentials: nil, eventLoop: self.group.next(), timeout: .seconds(5))
    }

    func ping(_ link: PeerLink, timeout: TimeAmount?) async -> Result<RESPValue, any Error> {
        do {
            return .success(try await link.eventLoop.flatSubmit { link.send([ByteBuffer(string: "PING")], timeout: timeout) }.get())
        } catch {
            return .failure(error)
        }
    }

    @Test func aSilentPeerCostsTheDeadlineNotTheLinkTimeout() async throws {
        let s = try await self.server { ScriptedPeer(delays: [nil]) }
        let l = self.link(to: s)
        // Timed on the link's event loop, from the send to the promise's completion: the test task's
        // own resumption can wait seconds behind the encoder suites that share the cooperative pool.
        let (r, took) = try await l.eventLoop.flatSubmit { () -> EventLoopFuture<(Result<RESPValue, any Error>, Duration)> in
            let start = ContinuousClock.now
            return l.send([ByteBuffer(string: "PING")], timeout: .milliseconds(150))
                .map { (.success($0), ContinuousClock.now - start) }
                .recover { (.failure($0), ContinuousClock.now - start) }
        }.get()
        #expect(throws: PeerError.timedOut) { try r.get() }
        #expect(took < .seconds(1), "waited \(took)")
        try await s.close()
    }

    @Test func aLateReplyIsDroppedNotGivenToTheNextRequest() async throws {
        let s = try await self.server { ScriptedPeer(delays: [.milliseconds(400), .zero]) }
        let l = self.link(to: s)
        async let first = self.ping(l, timeout: .milliseconds(100))
        try await Task.sleep(for: .milliseconds(20))
        async let second = self.ping(l, timeout: .seconds(3))
        let (a, b) = await (first, second)
        #expect(throws: PeerError.timedOut) { try a.get() }
        #expect(try b.get() == .simpleString("R2"))
        // The link stays usable after a timed-out request.
        #expect(try await self.ping(l, timeout: .seconds(3)).get() == .simpleString("R3"))
        try await s.close()
    }

    @Test func aCloseFailsEveryPendingRequestOnceAndTheLinkReconnects() async throws {
        let s = try await self.server { ScriptedPeer(delays: [nil], closeOn: 3) }
        let l = self.link(to: s)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 { group.addTask { (try? await self.ping(l, timeout: .seconds(3)).get()) == nil } }
            var failed: [Bool] = []
            for await f in group { failed.append(f) }
            return failed
        }
        #expect(results == [true, true, true])
        // A new connection (the server closes on its 3rd PING per connection; this is the 1st).
        let again = await self.ping(l, timeout: .milliseconds(200))
        #expect(throws: PeerError.timedOut) { try again.get() }
        try await s.close()
    }

    @Test func deadlinesRepliesAndClosesRacingCompleteEachRequestExactlyOnce() async throws {
        // Replies arrive around the deadline, and the server closes mid-way: 60 rounds of 8 requests.
        var seen = [0, 0, 0]  // answered, timed out, failed by the close
        for round in 0..<60 {
            let jitter = TimeAmount.milliseconds(Int64(round % 7) * 5)
            let s = try await self.server { ScriptedPeer(delays: [.milliseconds(20) + jitter], closeOn: 4 + round % 5) }
            let l = self.link(to: s)
            let outcomes = await withTaskGroup(of: Int.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        switch await self.ping(l, timeout: .milliseconds(Int64(10 + 5 * i))) {
                        case .success: return 0
                        case .failure(PeerError.timedOut): return 1
                        case .failure: return 2
                        }
                    }
                }
                var all: [Int] = []
                for await o in group { all.append(o) }
                return all
            }
            #expect(outcomes.count == 8)  // every request completed, once (a second completion would trap)
            for o in outcomes { seen[o] += 1 }
            try await s.close()
        }
        #expect(seen.allSatisfy { $0 > 0 }, "answered, timed out, closed: \(seen)")  // all three paths raced
    }
}
