import EmbCluster
import EmbTLS
import Logging
import NIOCore
import NIOEmbedded
import NIOSSL
import Testing

/// The front of a TLS door: a plaintext client is told in its protocol and closed; a TLS one passes on.
@Suite struct PlaintextRefusalTests {
    static let tls = try! NodeTLS(NodeTLSTests.settings())

    static func door(_ door: NodeTLS.Door) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addTLSIfConfigured(Self.tls, door: door, logger: Logger(label: "test"))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func written(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while var b = try channel.readOutbound(as: ByteBuffer.self) { out += b.readString(length: b.readableBytes) ?? "" }
        return out
    }

    @Test(arguments: [(NodeTLS.Door.resp, "*1\r\n$4\r\nPING\r\n", "-ERR this port speaks TLS"),
                      (.http, "GET /readyz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
                      (.http, "POST /v1/embeddings HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request")])
    func aPlaintextClientIsToldAndClosed(door: NodeTLS.Door, request: String, reply: String) throws {
        let channel = try Self.door(door)
        try channel.writeInbound(ByteBuffer(string: request))
        #expect(try Self.written(channel).hasPrefix(reply))
        #expect(!channel.isActive)
        // Nothing reached the handlers behind the door.
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
    }

    @Test func aStalledHandshakeIsClosedAfterItsTimeout() throws {
        let channel = try Self.door(.resp)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func noTLSSettingsAddNothing() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addTLSIfConfigured(nil, door: .resp, logger: Logger(label: "test"))
        try channel.writeInbound(ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
    }

    @Test func aHandshakeGoesToTheTLSHandler() throws {
        // A ClientHello made by a real client context, fed to the door: the server answers with its
        // ServerHello (a handshake record, 0x16), and the door stays open.
        var config = TLSConfiguration.makeClientConfiguration()
        config.trustRoots = .file("\(DevCertificates.cluster)/ca.pem")
        let client = EmbeddedChannel()
        try client.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: NIOSSLContext(configuration: config), serverHostname: "localhost"))
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let hello = try #require(try client.readOutbound(as: ByteBuffer.self))
        #expect(hello.getInteger(at: hello.readerIndex, as: UInt8.self) == 0x16)
        let server = try Self.door(.resp)
        try server.writeInbound(hello)
        let answer = try #require(try server.readOutbound(as: ByteBuffer.self))
        #expect(answer.getInteger(at: answer.readerIndex, as: UInt8.self) == 0x16)
        #expect(server.isActive)
        _ = try? client.finish()
        _ = try? server.finish()
    }
}

/// Refusals are logged once per kind, door and address per window, then with the count in between.
@Suite struct RefusalLogTests {
    @Test func oneLinePerAddressAndWindowThenTheCount() {
        let log = RefusalLog(window: .seconds(60))
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(log.admit(.plaintext, "plaintext resp 10.0.0.1", now: t0) == 0)
        #expect(log.admit(.plaintext, "plaintext resp 10.0.0.1", now: t0 + .seconds(1)) == nil)
        #expect(log.admit(.plaintext, "plaintext resp 10.0.0.1", now: t0 + .seconds(59)) == nil)
        #expect(log.admit(.plaintext, "plaintext resp 10.0.0.2", now: t0 + .seconds(2)) == 0)  // another address
        #expect(log.admit(.plaintext, "plaintext http 10.0.0.1", now: t0 + .seconds(2)) == 0)  // another door
        #expect(log.admit(.plaintext, "plaintext resp 10.0.0.1", now: t0 + .seconds(61)) == 2)
        #expect(log.admit(.plaintext, "plaintext resp 10.0.0.1", now: t0 + .seconds(62)) == nil)
        #expect(log.total(.plaintext) == 7)
    }

    @Test func theTableIsBounded() {
        let log = RefusalLog(window: .seconds(60))
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for i in 0..<(RefusalLog.maxEntries + 10) { #expect(log.admit(.plaintext, "a\(i)", now: t0) == 0) }
        // The table started over when full: an early address is logged again.
        #expect(log.admit(.plaintext, "a0", now: t0 + .seconds(1)) == 0)
        #expect(log.total(.plaintext) == RefusalLog.maxEntries + 11)
        #expect(log.total(.handshake) == 0)
    }
}
