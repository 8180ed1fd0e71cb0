// The first handler of a TLS door. Every TLS connection opens with a handshake record (first byte
// 0x16); a client that speaks plaintext to the port instead (redis-cli without --tls starts with
// '*', curl http:// with 'G' or 'P') would otherwise get a handshake alert it cannot print, or hang.
// It is told in its own protocol, logged in one line (one per address and minute: RefusalLog), and
// closed; the node carries on. A TLS connection
// removes this handler at its first read, so it costs nothing after that.
import Logging
import NIOCore

final class PlaintextRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The TLS record type of a handshake: the first byte of every ClientHello.
    static let handshakeRecord: UInt8 = 0x16

    private let door: NodeTLS.Door
    private let log: RefusalLog
    private let logger: Logger
    private var refused = false

    init(door: NodeTLS.Door, log: RefusalLog, logger: Logger) { (self.door, self.log, self.logger) = (door, log, logger) }

    /// What a plaintext client reads before the close, in its protocol.
    static func reply(for door: NodeTLS.Door) -> String {
        switch door {
        case .resp:
            return "-ERR this port speaks TLS: connect with TLS (redis-cli --tls --cacert <cluster CA>)\r\n"
        case .http:
            let body = "This port speaks HTTPS: use https:// (with the cluster's CA).\n"
            return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.refused else { return }
        let buffer = self.unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if first == Self.handshakeRecord {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        self.refused = true
        if let unlogged = self.log.admit(.plaintext, self.door, context.remoteAddress) {
            let shown = buffer.getBytes(at: buffer.readerIndex, length: min(8, buffer.readableBytes)) ?? []
            var metadata: Logger.Metadata = [
                "listener": "\(self.door.rawValue)", "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                "first_bytes": "\(String(decoding: shown.map { (32...126).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self))",
            ]
            if unlogged > 0 { metadata["unlogged_since_last_line"] = "\(unlogged)" }
            self.logger.warning("plaintext client on a TLS port refused (it must connect with TLS)", metadata: metadata)
        }
        // Written from here, before the TLS handler in the pipeline, so it goes out as plain bytes.
        var reply = context.channel.allocator.buffer(capacity: 256)
        reply.writeString(Self.reply(for: self.door))
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(reply)).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
