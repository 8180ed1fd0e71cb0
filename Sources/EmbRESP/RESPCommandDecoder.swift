// The NIO decoder for client requests: a one-line wrapper over `RESPParser` (style §6.3).
// Not here: replying or closing; the server's handler does both from what this emits or throws.
//
// Use: `ByteToMessageHandler(RESPCommandDecoder(limits: ...))` in front of the command handler.
// - `.command(c)`: run it.
// - `.rejected(e)`: reply `writeError(e)` (`-TOOBIG ...`, `-ERR Protocol error: unbalanced quotes ...`)
//   and keep reading: the request was consumed to its end.
// - thrown `RESPProtocolError`: reply `writeError(e)` (`-ERR Protocol error: ...`) and close, as Redis
//   does. `ByteToMessageHandler` passes the error down the pipeline in `errorCaught`.

import NIOCore

/// Decodes RESP requests into `RESPFrame`s for a `ByteToMessageHandler`.
public struct RESPCommandDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    /// One frame per request.
    public typealias InboundOut = RESPFrame

    /// The parser (and its limits), exposed so the server can tighten limits between requests.
    public var parser: RESPParser

    /// A decoder with the given limits.
    public init(limits: RESPLimits = .default) {
        self.parser = RESPParser(limits: limits)
    }

    /// The next frame, or nil when more bytes are needed.
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPFrame? {
        try self.parser.next(&buffer)
    }

    /// At end of input, frames still complete in `buffer` are delivered; a request cut short by the
    /// peer closing is dropped silently (as Redis drops a partial query buffer), not reported as
    /// left-over data.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPFrame? {
        if let frame = try self.parser.next(&buffer) {
            return frame
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return nil
    }
}
