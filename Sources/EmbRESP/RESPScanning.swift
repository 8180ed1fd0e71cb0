// Byte-level helpers shared by the request and reply parsers: find a CRLF-terminated line and read
// a strict decimal integer from it. Internal; works on raw pointers so the hot path makes no copies.
//
// The integer grammar is Redis's `string2ll` (util.c): an optional '-', then either "0" alone or a
// digit 1-9 followed by digits, fitting in 64 bits. No '+', no spaces, no leading zeros, no "-0".
// A header line can therefore never be longer than 20 bytes ("-9223372036854775808"), which lets
// the parser call a line garbage after 20 bytes instead of buffering up to 64 KiB waiting for a CR
// (Redis waits and then says "too big mbulk count string"; here it is "invalid ... length" at once).

enum RESPScan {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")

    /// Longest decimal integer string2ll accepts: "-9223372036854775808".
    static let maxIntegerDigits = 20

    /// The result of reading `<integer>\r\n`.
    enum IntegerLine: Equatable {
        /// The CR (or the LF after it) has not arrived yet, and nothing seen so far is wrong.
        case needMoreData
        /// Not a string2ll integer (a wrong byte, too many bytes, overflow).
        case invalid
        /// A CR not followed by LF.
        case invalidCRLF
        /// The value, and the offset just past the LF.
        case value(Int, next: Int)
    }

    /// Reads a strict integer from `start` up to a CRLF. Fails early on the first byte that can't be part
    /// of one, so a garbage header is refused as soon as it is seen.
    @inline(__always)
    static func integerLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> IntegerLine {
        var index = start
        let end = bytes.count
        while index < end {
            let byte = bytes[index]
            if byte == cr {
                guard index + 1 < end else { return .needMoreData }
                guard bytes[index + 1] == lf else { return .invalidCRLF }
                guard let value = parseInteger(bytes, from: start, to: index) else { return .invalid }
                return .value(value, next: index + 2)
            }
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard isDigit || (byte == UInt8(ascii: "-") && index == start) else { return .invalid }
            guard index - start < maxIntegerDigits else { return .invalid }
            index += 1
        }
        return .needMoreData
    }

    /// Parses `bytes[start..<end]` with string2ll's rules; nil when it is not such an integer.
    static func parseInteger(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        guard index < end else { return nil }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < end else { return nil }
        let first = bytes[index]
        if first == UInt8(ascii: "0") {
            // "0" alone; "00", "01" and "-0" are refused, as string2ll does.
            return (index + 1 == end && !negative) ? 0 : nil
        }
        var magnitude: UInt64 = 0
        while index < end {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit <= 9 else { return nil }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            guard !o1 && !o2 else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int.max) + 1 else { return nil }
            return Int(truncatingIfNeeded: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int.max) else { return nil }
        return Int(magnitude)
    }

    /// The result of looking for the CRLF that ends a line.
    enum Line: Equatable {
        case needMoreData
        case tooLong
        case invalidCRLF
        /// The line is `start..<end`; the next item starts at `end + 2`.
        case line(end: Int)
    }

    /// Finds the first CR at or after `start`, within `limit` bytes of content, and checks the LF after it.
    static func line(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> Line {
        var index = start
        let end = bytes.count
        while index < end {
            if bytes[index] == cr {
                guard index + 1 < end else { return .needMoreData }
                return bytes[index + 1] == lf ? .line(end: index) : .invalidCRLF
            }
            if index - start >= limit { return .tooLong }
            index += 1
        }
        return .needMoreData
    }
}
