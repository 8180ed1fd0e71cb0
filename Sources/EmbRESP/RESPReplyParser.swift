// A small parser for RESP2/RESP3 replies, for our own peer client and for tests.
// Not for requests (RESPParser) and not on the server's hot path.
//
// `parse` is all-or-nothing: it returns one complete value and consumes exactly its bytes, or
// returns nil and consumes nothing, so a caller just appends what the socket gave and calls again.
// It walks the bytes twice: first only to find where the value ends (no allocation; an incomplete
// value stops the walk at the first missing byte), then to build the value. Re-walking on every
// call is linear in the number of items already received, which is fine for replies of a few
// thousand elements; it is not meant for replies of millions.
//
// Bounded like the request side (style §6.4): aggregate nesting (64, as hiredis's
// REDIS_READER_STACK is far smaller and valkey-swift uses 100), bulk length, and line length.
// Counts are never trusted for allocation before the whole value is known to be present.
// RESP3 attributes (`|`) are read and dropped; the value they annotate is returned.

import NIOCore

/// Incremental parser for RESP2 and RESP3 replies.
public struct RESPReplyParser: Sendable {
    /// Deepest aggregate nesting accepted: a top-level array is depth 1.
    public var maxDepth: Int
    /// Longest bulk string, blob error or verbatim string.
    public var maxBulkLength: Int
    /// Longest simple string, error, double or big-number line.
    public var maxLineLength: Int

    /// A parser with the given bounds.
    public init(maxDepth: Int = 64, maxBulkLength: Int = 512 * 1024 * 1024, maxLineLength: Int = 64 * 1024) {
        precondition(maxDepth >= 1 && maxBulkLength >= 0 && maxLineLength >= 1, "reply limits must be positive")
        self.maxDepth = maxDepth
        self.maxBulkLength = maxBulkLength
        self.maxLineLength = maxLineLength
    }

    /// The next complete reply at the front of `buffer` (consumed), or nil when it is not complete yet
    /// (nothing consumed).
    /// - Throws: `RESPProtocolError` for a malformed reply; the connection can't be trusted after it.
    public func parse(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        let walked = try buffer.withUnsafeReadableBytes { (bytes) throws(RESPProtocolError) -> (RESPValue, Int)? in
            let walker = Walker(bytes: bytes, source: buffer, limits: self)
            guard let end = try walker.walk(0, depth: 0, build: false)?.end else { return nil }
            let (value, built) = try walker.walk(0, depth: 0, build: true)!
            assert(built == end)
            return (value!, end)
        }
        guard let (value, end) = walked else { return nil }
        buffer.moveReaderIndex(forwardBy: end)
        return value
    }
}

private struct Walker {
    let bytes: UnsafeRawBufferPointer
    /// The buffer `bytes` views, to hand out bulk strings as slices.
    let source: ByteBuffer
    let limits: RESPReplyParser

    /// The value starting at `offset` and the offset just past it; nil when bytes are missing.
    /// When `build` is false only the end is computed and the value is nil.
    func walk(_ offset: Int, depth: Int, build: Bool) throws(RESPProtocolError) -> (value: RESPValue?, end: Int)? {
        guard offset < self.bytes.count else { return nil }
        let type = self.bytes[offset]
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ","), UInt8(ascii: "("), UInt8(ascii: "#"),
            UInt8(ascii: "_"):
            guard let (line, end) = try self.line(offset + 1) else { return nil }
            // Strings are only made when building; the typed lines are checked on the first walk too.
            let skip = !build && (type == UInt8(ascii: "+") || type == UInt8(ascii: "-"))
            return (skip ? nil : try self.simple(type, line), end)
        case UInt8(ascii: ":"):
            guard let (number, end) = try self.integer(offset + 1, invalid: .invalidNumber("integer")) else {
                return nil
            }
            return (.integer(number), end)
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            return try self.blob(type, offset + 1, build: build)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            return try self.aggregate(type, offset + 1, depth: depth, build: build)
        default:
            throw .unknownReplyType(type)
        }
    }

    /// A CRLF-terminated line starting at `start`: its range and the offset after the LF.
    private func line(_ start: Int) throws(RESPProtocolError) -> (Range<Int>, Int)? {
        switch RESPScan.line(self.bytes, from: start, limit: self.limits.maxLineLength) {
        case .needMoreData: return nil
        case .tooLong: throw .lineTooLong(limit: self.limits.maxLineLength)
        case .invalidCRLF: throw .invalidCRLF
        case .line(let end): return (start..<end, end + 2)
        }
    }

    /// `<integer>\r\n` at `start`; a malformed number throws `invalid` (its meaning depends on the type).
    private func integer(_ start: Int, invalid: RESPProtocolError) throws(RESPProtocolError) -> (Int, Int)? {
        switch RESPScan.integerLine(self.bytes, from: start) {
        case .needMoreData: return nil
        case .invalid: throw invalid
        case .invalidCRLF: throw .invalidCRLF
        case .value(let number, let next): return (number, next)
        }
    }

    /// The one-line types. Always validated (cheap), so a bad double fails on the first walk.
    private func simple(_ type: UInt8, _ line: Range<Int>) throws(RESPProtocolError) -> RESPValue {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: self.bytes[line]), as: UTF8.self)
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(text)
        case UInt8(ascii: "-"):
            return .error(text)
        case UInt8(ascii: ","):
            guard let number = Double(text) else { throw .invalidNumber("double") }
            return .double(number)
        case UInt8(ascii: "("):
            guard RESPScan.isBigNumber(self.bytes, line) else { throw .invalidNumber("big number") }
            return .bigNumber(text)
        case UInt8(ascii: "#"):
            switch text {
            case "t": return .boolean(true)
            case "f": return .boolean(false)
            default: throw .invalidNumber("boolean")
            }
        default:
            guard line.isEmpty else { throw .invalidNumber("null") }
            return .null
        }
    }

    /// `$`, `!` (blob error) and `=` (verbatim, `fmt:` prefix dropped).
    private func blob(_ type: UInt8, _ start: Int, build: Bool) throws(RESPProtocolError) -> (RESPValue?, Int)? {
        guard let (length, payload) = try self.integer(start, invalid: .invalidBulkLength) else { return nil }
        if length == -1 && type == UInt8(ascii: "$") {
            return (.bulkString(nil), payload)
        }
        guard length >= 0 && length <= self.limits.maxBulkLength else { throw .invalidBulkLength }
        let end = payload + length
        guard end + 2 <= self.bytes.count else { return nil }
        guard self.bytes[end] == RESPScan.cr && self.bytes[end + 1] == RESPScan.lf else { throw .invalidCRLF }
        if type == UInt8(ascii: "=") {
            guard length >= 4 && self.bytes[payload + 3] == UInt8(ascii: ":") else { throw .invalidBulkLength }
        }
        guard build else { return (nil, end + 2) }
        switch type {
        case UInt8(ascii: "!"):
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: self.bytes[payload..<end]), as: UTF8.self)
            return (.error(text), end + 2)
        case UInt8(ascii: "="):
            return (.bulkString(self.slice(payload + 4, length - 4)), end + 2)
        default:
            return (.bulkString(self.slice(payload, length)), end + 2)
        }
    }

    private func slice(_ offset: Int, _ length: Int) -> ByteBuffer {
        self.source.getSlice(at: self.source.readerIndex + offset, length: length)!
    }

    /// `*`, `~`, `>`, `%` and `|` (attribute: read, dropped, then the annotated value follows).
    private func aggregate(
        _ type: UInt8,
        _ start: Int,
        depth: Int,
        build: Bool
    ) throws(RESPProtocolError) -> (RESPValue?, Int)? {
        guard let (count, first) = try self.integer(start, invalid: .invalidMultibulkLength) else { return nil }
        if count == -1 && type == UInt8(ascii: "*") {
            return (.array(nil), first)
        }
        guard count >= 0 else { throw .invalidMultibulkLength }
        guard depth < self.limits.maxDepth else { throw .nestingTooDeep(limit: self.limits.maxDepth) }
        let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
        let (items, overflow) = count.multipliedReportingOverflow(by: isPairs ? 2 : 1)
        guard !overflow else { throw .invalidMultibulkLength }

        var elements: [RESPValue] = []
        if build { elements.reserveCapacity(items) }  // safe: the first walk proved all items are present
        var offset = first
        for _ in 0..<items {
            guard let (element, end) = try self.walk(offset, depth: depth + 1, build: build) else { return nil }
            if let element { elements.append(element) }
            offset = end
        }
        if type == UInt8(ascii: "|") {
            // One level deeper, so a chain of attributes is bounded by maxDepth like nesting is.
            return try self.walk(offset, depth: depth + 1, build: build)
        }
        guard build else { return (nil, offset) }
        switch type {
        case UInt8(ascii: "~"): return (.set(elements), offset)
        case UInt8(ascii: ">"): return (.push(elements), offset)
        case UInt8(ascii: "%"):
            let entries = stride(from: 0, to: elements.count, by: 2).map {
                RESPMapEntry(key: elements[$0], value: elements[$0 + 1])
            }
            return (.map(entries), offset)
        default: return (.array(elements), offset)
        }
    }
}

extension RESPScan {
    /// `-?[0-9]+`, any length (RESP3 big numbers exceed 64 bits by definition).
    static func isBigNumber(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var digits = range
        if let first = digits.first, bytes[first] == UInt8(ascii: "-") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { bytes[$0] >= UInt8(ascii: "0") && bytes[$0] <= UInt8(ascii: "9") }
    }
}
