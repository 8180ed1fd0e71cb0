// The two kinds of failure the RESP codecs report, and the wire text for each.
//
// The split follows one question: does the server still know where the next request starts?
// - `RESPError`: yes. The bad request was read to its last byte and skipped, so the server replies
//   with this error and reads the next request on the same connection (a text over the size limit,
//   too many arguments, an inline line with unbalanced quotes).
// - `RESPProtocolError`: no. The byte stream can't be framed any more (a length that is not a
//   number, a nested array, a missing CRLF, a header or inline line that never ends), so the server
//   writes `-ERR <message>` and closes the connection, as Redis does in `setProtocolError`.
// Not here: command-level errors (wrong arity, unknown command): those belong to the server.

/// A request that was framed correctly but refused; it has been consumed and the connection stays usable.
///
/// The server answers it with `buffer.writeError(error)` and goes on with the next request.
public struct RESPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, for tests and metrics to match on.
    public enum Code: String, Hashable, Sendable {
        /// One bulk argument (or inline token) is longer than `RESPLimits.maxBulkLength`.
        case argumentTooLong
        /// The request has more arguments than `RESPLimits.maxArguments`.
        case tooManyArguments
        /// An inline request has a quote that is never closed, or a closing quote followed by a non-space.
        case unbalancedQuotes
    }

    /// What was wrong.
    public let code: Code
    /// The word that starts the RESP error reply: `TOOBIG` or `ERR`.
    public let replyCode: String
    /// The text after the reply code, e.g. `argument 2 is 70000 bytes, the limit is 65536`.
    public let message: String

    /// Makes an error; the reply code follows from `code`.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
        switch code {
        case .argumentTooLong, .tooManyArguments: self.replyCode = "TOOBIG"
        case .unbalancedQuotes: self.replyCode = "ERR"
        }
    }

    /// `CODE message`, as the client sees it after the leading `-`.
    public var description: String { "\(self.replyCode) \(self.message)" }

    public static func argumentTooLong(index: Int, length: Int, limit: Int) -> RESPError {
        RESPError(code: .argumentTooLong, message: "argument \(index) is \(length) bytes, the limit is \(limit)")
    }

    public static func tooManyArguments(count: Int, limit: Int) -> RESPError {
        RESPError(code: .tooManyArguments, message: "request has \(count) arguments, the limit is \(limit)")
    }

    public static let unbalancedQuotes = RESPError(
        code: .unbalancedQuotes,
        message: "Protocol error: unbalanced quotes in request"
    )
}

/// A byte stream that can no longer be framed: reply `-ERR <message>` and close the connection.
///
/// Thrown by `RESPParser`, `RESPCommandDecoder` and `RESPReplyParser`. The messages are Redis's own
/// (`networking.c`), so clients and the redis test-suite patterns (`*invalid bulk length*`) match.
public struct RESPProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, for tests and metrics to match on.
    public enum Code: String, Hashable, Sendable {
        /// `*<n>`: not a number, or more than `RESPLimits.hardMaxArguments` (or a bad aggregate count in a reply).
        case invalidMultibulkLength
        /// `$<n>`: not a number, negative, or more than the hard bulk cap.
        case invalidBulkLength
        /// A request array element that is not a bulk string (`expected '$', got 'X'`), nested arrays included.
        case unexpectedType
        /// A line or a bulk payload not followed by `\r\n`.
        case invalidCRLF
        /// An inline request line longer than `RESPLimits.maxInlineLength`.
        case tooBigInlineRequest
        /// Reply parser: a type byte that RESP2/RESP3 does not define.
        case unknownReplyType
        /// Reply parser: aggregates nested deeper than the parser's depth limit.
        case nestingTooDeep
        /// Reply parser: an integer, double or boolean that does not parse.
        case invalidNumber
        /// Reply parser: a simple line (simple string, error, number) longer than the line limit.
        case lineTooLong
    }

    /// What was wrong.
    public let code: Code
    /// The full Redis-style text, e.g. `Protocol error: invalid bulk length`; sent as `-ERR <message>`.
    public let message: String

    /// Makes an error with an explicit message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// `ERR message`, as the client sees it after the leading `-`.
    public var description: String { "ERR \(self.message)" }

    public static let invalidMultibulkLength = RESPProtocolError(
        code: .invalidMultibulkLength,
        message: "Protocol error: invalid multibulk length"
    )
    public static let invalidBulkLength = RESPProtocolError(
        code: .invalidBulkLength,
        message: "Protocol error: invalid bulk length"
    )
    public static let invalidCRLF = RESPProtocolError(code: .invalidCRLF, message: "Protocol error: invalid CRLF in request")
    public static let tooBigInlineRequest = RESPProtocolError(
        code: .tooBigInlineRequest,
        message: "Protocol error: too big inline request"
    )

    /// `Protocol error: expected '$', got 'X'`. Printable ASCII is shown as is (as Redis's `%c`); any other
    /// byte as `\xHH`, so a NUL or CR never ends up inside the error line.
    public static func unexpectedType(got byte: UInt8) -> RESPProtocolError {
        RESPProtocolError(code: .unexpectedType, message: "Protocol error: expected '$', got '\(printable(byte))'")
    }

    public static func unknownReplyType(_ byte: UInt8) -> RESPProtocolError {
        RESPProtocolError(code: .unknownReplyType, message: "Protocol error: invalid reply type '\(printable(byte))'")
    }

    public static func nestingTooDeep(limit: Int) -> RESPProtocolError {
        RESPProtocolError(code: .nestingTooDeep, message: "Protocol error: reply nested deeper than \(limit)")
    }

    public static func invalidNumber(_ what: String) -> RESPProtocolError {
        RESPProtocolError(code: .invalidNumber, message: "Protocol error: invalid \(what)")
    }

    public static func lineTooLong(limit: Int) -> RESPProtocolError {
        RESPProtocolError(code: .lineTooLong, message: "Protocol error: reply line longer than \(limit) bytes")
    }

    static func printable(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F {
            return String(UnicodeScalar(byte))
        }
        let hex = String(byte, radix: 16, uppercase: false)
        return byte < 0x10 ? "\\x0\(hex)" : "\\x\(hex)"
    }
}
