// One decoded client request (its arguments and how it was framed), and the decoder's output type.
//
// Arguments are `ByteBuffer` slices of the receive buffer: no copy and no String is made while
// decoding, so the hit path (`EMBED text`) reaches the server as two slices. Interpreting the
// arguments (command names, arity, numbers) is the server's job, not this module's.

import NIOCore

/// The arguments of one request, the command name first.
public struct RESPCommand: Hashable, Sendable {
    /// How the request arrived on the wire.
    public enum Framing: Hashable, Sendable {
        /// `*<n>\r\n` followed by `n` bulk strings: what every client library and redis-benchmark sends.
        case multibulk
        /// One line split on spaces with quotes, as typed into telnet (Redis `processInlineBuffer`).
        case inline
    }

    /// The arguments in order; `arguments[0]` is the command name. Never empty when decoded.
    public var arguments: [ByteBuffer]
    /// How the request arrived.
    public var framing: Framing

    /// Wraps already-split arguments.
    public init(arguments: [ByteBuffer], framing: Framing = .multibulk) {
        self.arguments = arguments
        self.framing = framing
    }

    /// Builds a command from strings (UTF-8), for tests and for our own peer client.
    public init(_ arguments: [String], framing: Framing = .multibulk) {
        self.arguments = arguments.map { ByteBuffer(string: $0) }
        self.framing = framing
    }

    /// Whether the command name equals `name`, ASCII case-insensitively (`get` matches `GET`),
    /// without making a String from the wire bytes.
    public func hasName(_ name: StaticString) -> Bool {
        guard let first = self.arguments.first, first.readableBytes == name.utf8CodeUnitCount else { return false }
        // Raw bytes on both sides: this runs for every request, and iterator-based comparison of a
        // ByteBufferView with a String's UTF-8 view showed up in profiles at a million requests a second.
        return first.withUnsafeReadableBytes { wire in
            let expected = name.utf8Start
            for i in 0..<wire.count where asciiLowercase(wire[i]) != asciiLowercase(expected[i]) { return false }
            return true
        }
    }
}

/// What `RESPCommandDecoder` produces: a request to run, or one that was read in full and refused.
///
/// Both keep the connection usable. A stream that can't be framed is not an output: the decoder
/// throws `RESPProtocolError`, and the server replies `-ERR <message>` and closes.
public enum RESPFrame: Hashable, Sendable {
    /// A well-formed request within the limits.
    case command(RESPCommand)
    /// A request that was consumed to its end but refused (too long, too many arguments, unbalanced
    /// quotes). Reply with `writeError(_:)` and read on.
    case rejected(RESPError)
}

@inline(__always)
private func asciiLowercase(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}
