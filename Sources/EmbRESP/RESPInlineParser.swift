// Splitting one inline request line into arguments, the way Redis's `sdssplitargs` (sds.c) does it.
// Not here: finding the line and its limits (RESPParser), or what the arguments mean (the server).
//
// The rules, from sdssplitargs (the classic version that Redis and redis-cli share):
// - arguments are separated by blanks (C `isspace`: space, \t, \n, \v, \f, \r), which are skipped;
// - an unquoted argument ends at space, \t, \n, \r or the end (not at \v or \f: sds quirk, kept);
// - "double quotes" take escapes \n \r \t \b \a, \xHH (two hex digits), and \<c> for any other c;
// - 'single quotes' take only \' as an escape;
// - a quote may start inside an argument (`ab"cd"` is `abcd`), but a closing quote must be followed
//   by a blank or the end of the line (`"a"b` is an error), and an unclosed quote is an error;
// - the line is a C string in Redis, so a NUL byte ends it: whatever follows a NUL is ignored.
// Arguments without quotes are slices of the line (no copy); quoted ones are rebuilt byte by byte.

import NIOCore

/// Redis's inline command syntax (sdssplitargs), public for tools and tests.
public enum RESPInlineParser {
    /// The arguments of `line` (CR/LF already removed), or nil for unbalanced quotes.
    /// An empty or all-blank line gives an empty array.
    public static func split(_ line: ByteBuffer) -> [ByteBuffer]? {
        let tokens = line.withUnsafeReadableBytes { splitTokens($0) }
        guard let tokens else { return nil }
        return tokens.map { token in
            switch token {
            case .slice(let range):
                return line.getSlice(at: line.readerIndex + range.lowerBound, length: range.count)!
            case .rebuilt(let bytes):
                return ByteBuffer(bytes: bytes)
            }
        }
    }

    /// One argument of a line.
    public enum Token: Equatable, Sendable {
        /// An argument that is exactly these bytes of the line.
        case slice(Range<Int>)
        /// An argument that had quotes or escapes.
        case rebuilt([UInt8])
    }

    /// sdssplitargs over raw bytes; nil when quotes don't balance.
    public static func splitTokens(_ raw: UnsafeRawBufferPointer) -> [Token]? {
        let end = raw.firstIndex(of: 0) ?? raw.count
        // `at` reads like C's `*(p + k)`: past the end there is a NUL.
        func at(_ index: Int) -> UInt8 { index < end ? raw[index] : 0 }

        var tokens: [Token] = []
        var p = 0
        while true {
            while p < end && isSpace(raw[p]) { p += 1 }
            guard p < end else { return tokens }

            let start = p
            var plainEnd = p
            var inDouble = false
            var inSingle = false
            var quoted = false
            var bytes: [UInt8] = []
            var done = false
            while !done {
                let c = at(p)
                if inDouble {
                    if c == backslash && at(p + 1) == UInt8(ascii: "x"), let high = hexValue(at(p + 2)),
                        let low = hexValue(at(p + 3))
                    {
                        bytes.append(high << 4 | low)
                        p += 3
                    } else if c == backslash && at(p + 1) != 0 {
                        p += 1
                        bytes.append(unescape(at(p)))
                    } else if c == doubleQuote {
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        bytes.append(c)
                    }
                } else if inSingle {
                    if c == backslash && at(p + 1) == singleQuote {
                        p += 1
                        bytes.append(singleQuote)
                    } else if c == singleQuote {
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        bytes.append(c)
                    }
                } else {
                    switch c {
                    case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), 0:
                        plainEnd = p
                        done = true
                    case doubleQuote, singleQuote:
                        if !quoted {
                            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<p]))
                            quoted = true
                        }
                        if c == doubleQuote { inDouble = true } else { inSingle = true }
                    default:
                        break  // part of a plain token; a closing quote always ends a token, so no copy yet
                    }
                }
                if at(p) != 0 { p += 1 }
            }
            tokens.append(quoted ? .rebuilt(bytes) : .slice(start..<plainEnd))
        }
    }

    private static let backslash = UInt8(ascii: "\\")
    private static let doubleQuote = UInt8(ascii: "\"")
    private static let singleQuote = UInt8(ascii: "'")

    /// C `isspace` in the "C" locale.
    private static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0D)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func unescape(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "a"): return 0x07
        default: return c
        }
    }
}
