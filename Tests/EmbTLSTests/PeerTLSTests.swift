import EmbCluster
import EmbTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// The peer link's side of mutual TLS, over real loopback sockets: `addPeerTLS` on a client channel
/// against a door made by `addTLSIfConfigured`, as the peer link and the node's RESP listener do.
@Suite struct PeerTLSTests {
    /// Answers the TLS layer's verdict on the client: "+peer" when PEER.* would be served, "+client" when not.
    final class Verdict: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let outcome = event as? TLSHandshakeOutcome {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: outcome.peerCommandsAllowed ? "+peer\r\n" : "+client\r\n")), promise: nil)
            }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Completes with the first bytes the server sends, or the error that closed the link.
    final class FirstReply: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<String>
        var done = false
        init(_ promise: EventLoopPromise<String>) { self.promise = promise }
        func finish(_ result: Result<String, any Error>) {
            guard !self.done else { return }
            self.done = true
            self.promise.completeWith(result)
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = self.unwrapInboundIn(data)
            self.finish(.success(b.readString(length: b.readableBytes) ?? ""))
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.finish(.failure(error))
            context.close(promise: nil)
        }
        func channelInactive(context: ChannelHandlerContext) { self.finish(.failure(ChannelError.eof)) }
    }

    /// A door on a free loopback port, serving `server`'s TLS; the client connects with `client`'s peer TLS.
    static func exchange(server: NodeTLS, client: NodeTLS?, host: String = "127.0.0.1") async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = Logger(label: "test")
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addTLSIfConfigured(server, door: .resp, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(Verdict())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let promise = group.next().makePromise(of: String.self)
        var outcome: Result<String, any Error>
        do {
            let link = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addPeerTLS(client, host: host)
                        try channel.pipeline.syncOperations.addHandler(FirstReply(promise))
                    }
                }
                .connect(host: "127.0.0.1", port: listener.localAddress!.port!).get()
            do { outcome = .success(try await promise.futureResult.get()) } catch { outcome = .failure(error) }
            try? await link.close()
        } catch {
            promise.fail(error)
            outcome = .failure(error)
        }
        try? await listener.close()
        return try outcome.get()
    }

    @Test func aPeerOfTheClusterIsVerifiedBothWays() async throws {
        let n1 = try NodeTLS(NodeTLSTests.settings(node: "n1"))
        let n2 = try NodeTLS(NodeTLSTests.settings(node: "n2"))
        #expect(try await Self.exchange(server: n1, client: n2) == "+peer\r\n")
        // By DNS name: sent as SNI and checked against the certificate's DNS SAN (localhost).
        #expect(try await Self.exchange(server: n1, client: n2, host: "localhost") == "+peer\r\n")
    }

    @Test func aPeerWithACertificateOfAnotherCAIsRefusedByTheServer() async throws {
        let n1 = try NodeTLS(NodeTLSTests.settings(node: "n1"))
        // A stranger that trusts our CA (so it goes on) but shows its own CA's certificate.
        var stranger = NodeTLSTests.settings(DevCertificates.foreign, node: "n1")
        stranger.authority = .file("\(DevCertificates.cluster)/ca.pem")
        await #expect(throws: (any Error).self) { try await Self.exchange(server: n1, client: try NodeTLS(stranger)) }
    }

    @Test func aServerOfAnotherCAIsRefusedByThePeer() async throws {
        let foreign = try NodeTLS(NodeTLSTests.settings(DevCertificates.foreign, node: "n1"))
        let n2 = try NodeTLS(NodeTLSTests.settings(node: "n2"))
        await #expect(throws: NIOSSLError.self) { try await Self.exchange(server: foreign, client: n2) }
    }

    @Test func thePeersNameOrAddressIsChecked() async throws {
        // n1's certificate names only DNS n1.internal: reached at 127.0.0.1 under that name (SNI) it
        // is accepted; by its IP, or under another name, it is refused. (With a name, swift-nio-ssl
        // also accepts an IP SAN equal to the connected address: the dev certificates' 127.0.0.1.)
        let n1 = try NodeTLS(NodeTLSTests.settings(DevCertificates.named, node: "n1"))
        let n2 = try NodeTLS(NodeTLSTests.settings(node: "n2"))
        #expect(try await Self.exchange(server: n1, client: n2, host: "n1.internal") == "+peer\r\n")
        await #expect(throws: (any Error).self) { try await Self.exchange(server: n1, client: n2, host: "127.0.0.1") }
        await #expect(throws: (any Error).self) { try await Self.exchange(server: n1, client: n2, host: "n9.internal") }
    }

    @Test func oneWayPeersShowNoCertificateRequirement() async throws {
        var settings = NodeTLSTests.settings(node: "n1")
        settings.peers = .oneWay
        let n1 = try NodeTLS(settings)
        let n2 = try NodeTLS(NodeTLSTests.settings(node: "n2"))
        // Without mutual TLS the server asks for no certificate, and PEER.* rests on the cluster secret.
        #expect(try await Self.exchange(server: n1, client: n2) == "+peer\r\n")
    }
}
