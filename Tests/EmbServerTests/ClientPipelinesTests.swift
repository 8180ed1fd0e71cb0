// Both client ports driven through their real pipelines (ClientPipelines) on NIO's EmbeddedChannel:
// RESP replies in order and QUIT closing after its reply, NOAUTH then AUTH, the idle timeout with
// EmbeddedEventLoop's clock; HTTP answering each request with ONE write of head and body, and
// pipelined requests in order.
import EmbCluster
import EmbRESP
import EmbServer
import NIOCore
import NIOEmbedded
import Testing

@Suite struct ClientPipelinesTests {
    static func resp(secret: Secret? = nil, idle: TimeAmount = .seconds(300)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try ClientPipelines.resp(channel, server: try TestServer.make(secret: secret), limits: RESPLimits(), idleTimeout: idle)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func http() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try ClientPipelines.http(channel, server: try TestServer.make(), idleTimeout: .seconds(300))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    /// One read burst from the client: its bytes, then the end of the burst (when replies are flushed).
    static func send(_ channel: EmbeddedChannel, _ bytes: String) throws {
        try channel.writeInbound(ByteBuffer(string: bytes))
        channel.pipeline.fireChannelReadComplete()
    }

    /// Everything the channel wrote, as one string.
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var all = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { all += String(buffer: part) }
        return all
    }

    @Test func pipelinedRepliesLeaveInOrderAndQuitClosesAfterItsReply() throws {
        let channel = try Self.resp()
        try Self.send(channel, "PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nQUIT\r\nPING\r\n")
        #expect(try Self.written(channel) == "+PONG\r\n$2\r\nhi\r\n+OK\r\n", "the PING after QUIT is not answered")
        #expect(!channel.isActive, "QUIT closes the connection")
    }

    @Test func aSecretMakesCommandsWaitForAuthAndTheRightPasswordOpensThem() throws {
        let channel = try Self.resp(secret: "sekret")
        try Self.send(channel, "*2\r\n$5\r\nEMBED\r\n$1\r\nx\r\n*2\r\n$4\r\nAUTH\r\n$6\r\nsekret\r\n*1\r\n$5\r\nEMBED\r\n")
        #expect(try Self.written(channel) == "-NOAUTH Authentication required.\r\n+OK\r\n-ERR wrong number of arguments for 'embed' command\r\n")
        _ = try? channel.finish()
    }

    @Test func aSilentConnectionIsClosedAfterTheIdleTimeout() throws {
        let channel = try Self.resp(idle: .seconds(8))
        let loop = channel.embeddedEventLoop
        loop.advanceTime(by: .seconds(6))
        try Self.send(channel, "PING\r\n")
        loop.advanceTime(by: .seconds(6))
        #expect(channel.isActive, "a read 6 s ago keeps it open")
        loop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
    }

    @Test func aSilentHTTPConnectionIsClosedAfterTheIdleTimeout() throws {
        let channel = EmbeddedChannel()
        try ClientPipelines.http(channel, server: try TestServer.make(), idleTimeout: .seconds(8))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try Self.send(channel, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        channel.embeddedEventLoop.advanceTime(by: .seconds(8))
        #expect(channel.isActive, "a request 8 s ago, seen at the +2 s tick, keeps it open")
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(!channel.isActive)
    }

    @Test func anHTTPResponseIsOneWriteOfHeadAndBodyAndPipelinedRequestsAreAnsweredInOrder() throws {
        let channel = try Self.http()
        try Self.send(channel, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let second = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "one write per response")
        #expect(String(buffer: first) == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}")
        #expect(String(buffer: second).hasSuffix("{\"status\":\"ready\",\"model\":\"tiny\"}"), "/readyz names the default lane's model")
    }

    @Test func aMalformedHTTPRequestGets400AndAClose() throws {
        let channel = try Self.http()
        try? Self.send(channel, "NOT HTTP AT ALL\r\n\r\n")
        let reply = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: reply).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(!channel.isActive)
    }

    @Test func anUnknownModelGetsTheSameWordsOverHTTPAsOverRESP() throws {
        let channel = try Self.http()
        let body = #"{"input":"x","model":"nope"}"#
        try Self.send(channel, "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let reply = String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(reply.hasPrefix("HTTP/1.1 404 Not Found\r\n") && reply.contains("unknown model 'nope'; this node serves tiny, tiny-alias, tiny2"), "\(reply)")
        #expect(reply.contains("model_not_found"))
    }
}
