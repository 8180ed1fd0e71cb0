// The request parser: bytes in, `RESPFrame`s out, bounded by `RESPLimits`. Pure (no NIO channel);
// `RESPCommandDecoder` is the one-line wrapper that puts it in a pipeline.
//
// It follows Redis's `processInputBuffer` (networking.c): a request starting with '*' is multibulk
// (`processMultibulkBuffer`), anything else is an inline line (`processInlineBuffer`). Like Redis,
// `*0` and negative counts are skipped silently, empty inline lines are ignored, and the errors
// carry Redis's texts. Where it differs, it is on purpose:
// - over-long arguments and too many arguments are not fatal: the request is skipped to its end
//   (streaming, nothing kept) and reported as `.rejected`, so one oversized text doesn't cost the
//   client its connection. Only past the hard caps is the length called garbage.
// - unbalanced quotes are `.rejected` too (Redis closes): the line end is known, so nothing is lost.
// - the CRLF after every line and payload is checked (as valkey does: "invalid CRLF in request").
//
// Cost: a complete request is parsed in one pass over the bytes and handed out as slices of the
// receive buffer, one array per request. A partial request is not consumed; the parser remembers
// where it stopped (argument ranges relative to the reader index) and resumes there, so feeding a
// request byte by byte stays linear. Nothing is consumed until a frame is complete, except while
// skipping a rejected request, which is consumed as it streams past.

import NIOCore

/// Incremental parser for client requests (multibulk and inline).
public struct RESPParser: Sendable {
    /// The bounds in force. The server may tighten them (e.g. before AUTH) between requests.
    public var limits: RESPLimits

    private var state: State = .idle
    /// Argument ranges of the multibulk request in progress, relative to the reader index. Reused.
    private var ranges: [Range<Int>] = []

    private enum State: Sendable {
        case idle
        /// An inline line whose first `scanned` bytes hold no LF.
        case inline(scanned: Int)
        /// `expected` arguments announced; `ranges` holds those read so far; the next header is at `offset`.
        case multibulk(expected: Int, offset: Int)
        /// Skipping a rejected multibulk request to its end, consuming as it goes.
        case discarding(Discard)
    }

    private struct Discard: Sendable {
        var argumentsLeft: Int
        var phase: Phase
        let error: RESPError

        enum Phase: Sendable {
            case header
            case payload(remaining: Int)
            case crlf
        }
    }

    /// A parser with the given limits.
    public init(limits: RESPLimits = .default) {
        self.limits = limits
    }

    /// Whether the parser is between requests (nothing partial buffered or being skipped).
    public var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    /// Parses the next frame from `buffer`.
    ///
    /// - Returns: a frame, with its bytes consumed; or nil when more bytes are needed (a partial
    ///   request stays in `buffer`, except the part of a rejected request already skipped).
    /// - Throws: `RESPProtocolError` when the stream can't be framed; the connection must be closed.
    public mutating func next(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPFrame? {
        while true {
            let step: Step
            switch self.state {
            case .idle:
                step = try self.start(&buffer)
            case .inline(let scanned):
                step = try self.inline(&buffer, scanned: scanned)
            case .multibulk(let expected, let offset):
                step = try self.multibulk(&buffer, expected: expected, offset: offset)
            case .discarding(let discard):
                step = try self.discard(&buffer, discard)
            }
            switch step {
            case .frame(let frame): return frame
            case .needMoreData: return nil
            case .again: continue
            }
        }
    }

    private enum Step {
        case frame(RESPFrame)
        case needMoreData
        /// State or buffer changed; look again.
        case again
    }

    /// Between requests: decide multibulk or inline from the first byte, and read `*<n>\r\n`.
    private mutating func start(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> Step {
        guard let first = buffer.readableBytesView.first else { return .needMoreData }
        guard first == UInt8(ascii: "*") else {
            self.state = .inline(scanned: 0)
            return .again
        }
        let header = buffer.withUnsafeReadableBytes { RESPScan.integerLine($0, from: 1) }
        switch header {
        case .needMoreData:
            return .needMoreData
        case .invalid:
            throw .invalidMultibulkLength
        case .invalidCRLF:
            throw .invalidCRLF
        case .value(let count, let next):
            if count <= 0 {
                // Redis: "Multi bulk length cannot be read without a \r\n ... ll <= 0: skip".
                buffer.moveReaderIndex(forwardBy: next)
                return .again
            }
            guard count <= self.limits.hardMaxArguments else { throw .invalidMultibulkLength }
            if count > self.limits.maxArguments {
                buffer.moveReaderIndex(forwardBy: next)
                let error = RESPError.tooManyArguments(count: count, limit: self.limits.maxArguments)
                self.state = .discarding(Discard(argumentsLeft: count, phase: .header, error: error))
                return .again
            }
            self.ranges.removeAll(keepingCapacity: true)
            self.state = .multibulk(expected: count, offset: next)
            return .again
        }
    }

    /// Outcome of scanning bulk headers and payloads inside `withUnsafeReadableBytes`.
    private enum BulkScan {
        case complete(end: Int)
        case incomplete(offset: Int)
        /// Argument `index` announces `length` bytes, over the soft limit; its payload starts at `payload`.
        case tooLong(index: Int, length: Int, payload: Int)
    }

    private mutating func multibulk(
        _ buffer: inout ByteBuffer,
        expected: Int,
        offset start: Int
    ) throws(RESPProtocolError) -> Step {
        let limits = self.limits
        let scan = try buffer.withUnsafeReadableBytes { (bytes) throws(RESPProtocolError) -> BulkScan in
            var offset = start
            while self.ranges.count < expected {
                guard offset < bytes.count else { return .incomplete(offset: offset) }
                guard bytes[offset] == UInt8(ascii: "$") else { throw .unexpectedType(got: bytes[offset]) }
                switch RESPScan.integerLine(bytes, from: offset + 1) {
                case .needMoreData:
                    return .incomplete(offset: offset)
                case .invalid:
                    throw .invalidBulkLength
                case .invalidCRLF:
                    throw .invalidCRLF
                case .value(let length, let payload):
                    guard length >= 0 && length <= limits.hardMaxBulkLength else { throw .invalidBulkLength }
                    if length > limits.maxBulkLength {
                        return .tooLong(index: self.ranges.count, length: length, payload: payload)
                    }
                    let end = payload + length
                    guard end + 2 <= bytes.count else { return .incomplete(offset: offset) }
                    guard bytes[end] == RESPScan.cr && bytes[end + 1] == RESPScan.lf else { throw .invalidCRLF }
                    self.ranges.append(payload..<end)
                    offset = end + 2
                }
            }
            return .complete(end: offset)
        }

        switch scan {
        case .incomplete(let offset):
            self.state = .multibulk(expected: expected, offset: offset)
            return .needMoreData
        case .tooLong(let index, let length, let payload):
            buffer.moveReaderIndex(forwardBy: payload)
            let error = RESPError.argumentTooLong(index: index, length: length, limit: limits.maxBulkLength)
            let left = expected - index
            self.state = .discarding(Discard(argumentsLeft: left, phase: .payload(remaining: length), error: error))
            return .again
        case .complete(let end):
            let base = buffer.readerIndex
            var arguments: [ByteBuffer] = []
            arguments.reserveCapacity(self.ranges.count)
            for range in self.ranges {
                arguments.append(buffer.getSlice(at: base + range.lowerBound, length: range.count)!)
            }
            buffer.moveReaderIndex(forwardBy: end)
            self.state = .idle
            return .frame(.command(RESPCommand(arguments: arguments, framing: .multibulk)))
        }
    }

    /// Skips a rejected request: each bulk header is still checked (a garbage length stays fatal),
    /// payloads are consumed as they arrive without being kept.
    private mutating func discard(_ buffer: inout ByteBuffer, _ discard: Discard) throws(RESPProtocolError) -> Step {
        var discard = discard
        switch discard.phase {
        case .header:
            guard let first = buffer.readableBytesView.first else { return .needMoreData }
            guard first == UInt8(ascii: "$") else { throw .unexpectedType(got: first) }
            switch buffer.withUnsafeReadableBytes({ RESPScan.integerLine($0, from: 1) }) {
            case .needMoreData:
                return .needMoreData
            case .invalid:
                throw .invalidBulkLength
            case .invalidCRLF:
                throw .invalidCRLF
            case .value(let length, let next):
                guard length >= 0 && length <= self.limits.hardMaxBulkLength else { throw .invalidBulkLength }
                buffer.moveReaderIndex(forwardBy: next)
                discard.phase = .payload(remaining: length)
            }
        case .payload(let remaining):
            let skip = min(remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: skip)
            if skip < remaining {
                self.state = .discarding(
                    Discard(
                        argumentsLeft: discard.argumentsLeft,
                        phase: .payload(remaining: remaining - skip),
                        error: discard.error
                    )
                )
                return .needMoreData
            }
            discard.phase = .crlf
        case .crlf:
            guard buffer.readableBytes >= 2 else { return .needMoreData }
            let cr = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)
            let lf = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)
            guard cr == RESPScan.cr && lf == RESPScan.lf else { throw .invalidCRLF }
            buffer.moveReaderIndex(forwardBy: 2)
            discard.argumentsLeft -= 1
            if discard.argumentsLeft == 0 {
                self.state = .idle
                return .frame(.rejected(discard.error))
            }
            discard.phase = .header
        }
        self.state = .discarding(discard)
        return .again
    }

    /// An inline request: find the LF within `maxInlineLength` (+ CR + LF), then split the line.
    private mutating func inline(_ buffer: inout ByteBuffer, scanned: Int) throws(RESPProtocolError) -> Step {
        let limit = self.limits.maxInlineLength
        enum LineScan {
            case line(contentLength: Int, next: Int)
            case incomplete(scanned: Int)
            case tooBig
        }
        let scan = buffer.withUnsafeReadableBytes { (bytes) -> LineScan in
            // The LF of a line within the limit sits at index `limit + 1` at the latest (after a CR).
            let searchEnd = min(bytes.count, limit + 2)
            var index = scanned
            while index < searchEnd {
                if bytes[index] == RESPScan.lf {
                    let hasCR = index > 0 && bytes[index - 1] == RESPScan.cr
                    let content = hasCR ? index - 1 : index
                    return content > limit ? .tooBig : .line(contentLength: content, next: index + 1)
                }
                index += 1
            }
            return bytes.count >= limit + 2 ? .tooBig : .incomplete(scanned: index)
        }

        switch scan {
        case .tooBig:
            throw .tooBigInlineRequest
        case .incomplete(let scanned):
            self.state = .inline(scanned: scanned)
            return .needMoreData
        case .line(let contentLength, let next):
            let line = buffer.getSlice(at: buffer.readerIndex, length: contentLength)!
            buffer.moveReaderIndex(forwardBy: next)
            self.state = .idle
            guard let arguments = RESPInlineParser.split(line) else { return .frame(.rejected(.unbalancedQuotes)) }
            if arguments.isEmpty { return .again }  // Redis ignores empty lines (telnet keep-alives).
            if arguments.count > self.limits.maxArguments {
                return .frame(.rejected(.tooManyArguments(count: arguments.count, limit: self.limits.maxArguments)))
            }
            if let index = arguments.firstIndex(where: { $0.readableBytes > self.limits.maxBulkLength }) {
                let length = arguments[index].readableBytes
                return .frame(
                    .rejected(.argumentTooLong(index: index, length: length, limit: self.limits.maxBulkLength))
                )
            }
            return .frame(.command(RESPCommand(arguments: arguments, framing: .inline)))
        }
    }
}
