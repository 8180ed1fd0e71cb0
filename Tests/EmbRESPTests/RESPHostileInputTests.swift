// The hostile-input table, ported from redis/valkey tests/unit/protocol.tcl: each input mapped to
// what the decoder produces and whether it is fatal (thrown, connection closed) or not (frames only).
// Every case is also decoded in one go, byte by byte, and in 7-byte chunks: the outcome must not
// depend on how the bytes arrived.

import NIOCore
import Testing

import EmbRESP

struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let expected: Decoded
    var testDescription: String { self.name }

    init(_ name: String, _ input: String, frames: [RESPFrame] = [], fatal: RESPProtocolError.Code? = nil) {
        self.init(name, Array(input.utf8), frames: frames, fatal: fatal)
    }

    init(_ name: String, _ input: [UInt8], frames: [RESPFrame] = [], fatal: RESPProtocolError.Code? = nil) {
        self.name = name
        self.input = input
        self.expected = Decoded(frames: frames, fatal: fatal.map { HostileCase.error(for: $0) })
    }

    /// The exact error each code stands for in this table (messages are compared too).
    static func error(for code: RESPProtocolError.Code) -> RESPProtocolError {
        switch code {
        case .invalidMultibulkLength: return .invalidMultibulkLength
        case .invalidBulkLength: return .invalidBulkLength
        case .invalidCRLF: return .invalidCRLF
        case .tooBigInlineRequest: return .tooBigInlineRequest
        default: preconditionFailure("use an explicit error for \(code)")
        }
    }
}

private let ping = command("ping")
private let set = "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n"

/// protocol.tcl, first block.
let protocolTable: [HostileCase] = [
    HostileCase("Handle an empty query", "\r\n" + wire("ping"), frames: [ping]),
    HostileCase("Negative multibulk length", "*-10\r\n" + wire("ping"), frames: [ping]),
    HostileCase("Out of range multibulk length (valkey)", "*3000000000\r\n", fatal: .invalidMultibulkLength),
    HostileCase("Out of range multibulk length (redis)", "*20000000\r\n", fatal: .invalidMultibulkLength),
    HostileCase("Non-number multibulk length", "*blabla\r\n", fatal: .invalidMultibulkLength),
    HostileCase("Negative multibulk payload length", set + "$-10\r\n", fatal: .invalidBulkLength),
    HostileCase("Out of range multibulk payload length", set + "$2000000000\r\n", fatal: .invalidBulkLength),
    HostileCase("Non-number multibulk payload length", set + "$blabla\r\n", fatal: .invalidBulkLength),
    HostileCase("Regression for a crash on zero-length multibulk", "*0\r\nPING\r\n", frames: [inline("PING")]),
    HostileCase(
        "Regression for a crash with blocking ops and pipelining",
        wire("BLPOP", "nolist", "0") + wire("BLPOP", "nolist", "0"),
        frames: [command("BLPOP", "nolist", "0"), command("BLPOP", "nolist", "0")]
    ),
]

/// Cases whose error text carries the offending byte.
let unexpectedTypeTable: [HostileCase] = [
    HostileCase("Wrong multibulk payload header", set + "fooz\r\n"),
    HostileCase("Multi bulk request not followed by bulk arguments", "*1\r\nfoo\r\n"),
    HostileCase("Nested array in a request", "*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n"),
]

/// valkey "Check CRLF when parsing the querybuf": every header and payload must end in CRLF.
let crlfTable: [HostileCase] = {
    let good = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    var cases = [HostileCase("well-formed SET", good, frames: [command("SET", "key", "value")])]
    let variants: [(String, RESPProtocolError.Code)] = [
        ("*3x\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidMultibulkLength),
        ("*3\rx$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidCRLF),
        ("*3xx$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidMultibulkLength),
        ("*3\r\n$3x\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidBulkLength),
        ("*3\r\n$3\rxSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3xxSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidBulkLength),
        ("*3\r\n$3\r\nSET\rx$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSETx\n$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSETxx$3\r\nkey\r\n$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkeyx\n$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\rx$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkeyxx$5\r\nvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5x\nvalue\r\n", .invalidBulkLength),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\rxvalue\r\n", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5xxvalue\r\n", .invalidBulkLength),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvaluex\n", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\rx", .invalidCRLF),
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvaluexx", .invalidCRLF),
    ]
    for (index, (input, code)) in variants.enumerated() {
        cases.append(HostileCase("CRLF variant \(index + 1)", input, fatal: code))
    }
    return cases
}()

/// protocol.tcl "Protocol desync regression test #1-#4": a stray prefix, then 1 KiB of 'A' at a time.
/// Redis closes after at most PROTO_INLINE_MAX_SIZE bytes; so must we.
let desyncTable: [HostileCase] = {
    let payload = [UInt8](repeating: UInt8(ascii: "A"), count: 1024)
    let seqs: [([UInt8], RESPProtocolError.Code)] = [
        ([0x00], .tooBigInlineRequest),
        (Array("*".utf8) + [0x00], .invalidMultibulkLength),
        (Array("$".utf8) + [0x00], .tooBigInlineRequest),
        (Array("*1\r\n$".utf8) + [0x00], .invalidBulkLength),
    ]
    return seqs.enumerated().map { index, seq in
        let input = seq.0 + (0..<66).flatMap { _ in payload }  // just over 64 KiB
        return HostileCase("Protocol desync regression test #\(index + 1)", input, fatal: seq.1)
    }
}()

/// Inline quoting (valkey "Unbalanced single/double quotes"): refused, but the line end is known, so
/// unlike Redis the connection survives and the next command runs.
let quotesTable: [HostileCase] = [
    HostileCase(
        "Unbalanced single quotes",
        "set foo 'b'a'r\r\nping\r\n",
        frames: [.rejected(.unbalancedQuotes), inline("ping")]
    ),
    HostileCase(
        "Unbalanced double quotes",
        "set foo \"b\"a\"r\r\nping\r\n",
        frames: [.rejected(.unbalancedQuotes), inline("ping")]
    ),
    HostileCase(
        "Unterminated double quote",
        "get \"abc\r\nping\n",
        frames: [.rejected(.unbalancedQuotes), inline("ping")]
    ),
]

@Suite struct RESPHostileInputTests {
    @Test(arguments: protocolTable + crlfTable + desyncTable + quotesTable)
    func hostileInputMapsToItsErrorAndFatality(_ testCase: HostileCase) {
        for chunk in [nil, 1, 7] as [Int?] {
            let outcome = decode(testCase.input, chunkSize: chunk)
            #expect(outcome == testCase.expected, "chunk size \(String(describing: chunk))")
        }
    }

    @Test(arguments: zip(unexpectedTypeTable, ["f", "f", "*"]))
    func aNonBulkElementInARequestIsFatalAndNamesTheByte(_ testCase: HostileCase, got: String) {
        for chunk in [nil, 1, 7] as [Int?] {
            let outcome = decode(testCase.input, chunkSize: chunk)
            #expect(outcome.frames.isEmpty)
            #expect(outcome.fatal?.code == .unexpectedType)
            #expect(outcome.fatal?.message == "Protocol error: expected '$', got '\(got)'")
        }
    }

    @Test func aControlByteInPlaceOfDollarIsShownEscaped() {
        let outcome = decode("*1\r\n\r\n")
        #expect(outcome.fatal?.message == "Protocol error: expected '$', got '\\x0d'")
    }

    @Test func desyncIsDetectedWithinTheInlineLimit() {
        // Redis: "assert_morethan $payload_size $PROTO_INLINE_MAX_SIZE" before the error. Here the error
        // must come by the time 64 KiB + 2 bytes have arrived, and not before 64 KiB.
        let limit = RESPLimits.default.maxInlineLength
        let justUnder = [UInt8](repeating: UInt8(ascii: "A"), count: limit + 1)
        #expect(decode(justUnder) == Decoded(frames: [], fatal: nil))
        let over = [UInt8](repeating: UInt8(ascii: "A"), count: limit + 2)
        #expect(decode(over).fatal == .tooBigInlineRequest)
    }

    @Test func requestsWithManyArgumentsAreRejectedButTheConnectionGoesOn() {
        // protocol.tcl "test large number of args": MSET with 20002 arguments. Over our 4096 limit it is
        // skipped and answered -TOOBIG, and the next command is read normally.
        var input = "*20002\r\n"
        for _ in 0..<10001 { input += "$1\r\nk\r\n$1\r\nv\r\n" }
        input += wire("ping")
        let outcome = decode(input, chunkSize: 4096)
        #expect(outcome.fatal == nil)
        #expect(outcome.frames == [.rejected(.tooManyArguments(count: 20002, limit: 4096)), ping])
    }
}
