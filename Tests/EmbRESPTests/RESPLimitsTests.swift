// Every RESPLimits bound at exactly the bound (accepted) and one past it (rejected or fatal), with
// small limits so the inputs stay short. Also: a rejected request is skipped as it streams, so
// the parser never holds the oversized bytes.

import NIOCore
import Testing

import EmbRESP

@Suite struct RESPLimitsTests {
    private let atBound = String(repeating: "a", count: 8)  // smallLimits.maxBulkLength
    private let overBound = String(repeating: "a", count: 9)

    @Test func aBulkArgumentOfExactlyTheLimitIsAccepted() {
        #expect(decode(wire("EMBED", atBound), limits: smallLimits).frames == [command("EMBED", atBound)])
    }

    @Test func aBulkArgumentOneOverTheLimitIsRejectedAndTheNextCommandRuns() {
        for chunk in [nil, 1, 5] as [Int?] {
            let outcome = decode(wire("EMBED", overBound, "x") + wire("PING"), limits: smallLimits, chunkSize: chunk)
            #expect(outcome.fatal == nil)
            #expect(outcome.frames == [.rejected(.argumentTooLong(index: 1, length: 9, limit: 8)), command("PING")])
        }
    }

    @Test func theRejectionNamesTheArgumentAndTheLimitAndRepliesTOOBIG() {
        let outcome = decode(wire("EMBED", overBound), limits: smallLimits)
        guard case .rejected(let error)? = outcome.frames.first else {
            Issue.record("expected a rejection, got \(outcome)")
            return
        }
        #expect(error.code == .argumentTooLong)
        #expect(written { $0.writeError(error) } == "-TOOBIG argument 1 is 9 bytes, the limit is 8\r\n")
    }

    @Test func aBulkOfExactlyTheHardCapIsSkippedAndOnePastItIsFatal() {
        let hard = String(repeating: "h", count: 64)
        let skipped = decode(wire("EMBED", hard) + wire("PING"), limits: smallLimits)
        #expect(skipped.frames == [.rejected(.argumentTooLong(index: 1, length: 64, limit: 8)), command("PING")])
        #expect(skipped.fatal == nil)
        let fatal = decode("*2\r\n$5\r\nEMBED\r\n$65\r\n", limits: smallLimits)
        #expect(fatal == Decoded(frames: [], fatal: .invalidBulkLength))
    }

    @Test func argumentsAfterAnOversizedOneAreStillCheckedForGarbage() {
        // While skipping, a later header that is garbage still closes the connection.
        let outcome = decode("*3\r\n$5\r\nEMBED\r\n$9\r\naaaaaaaaa\r\n$zz\r\n", limits: smallLimits)
        #expect(outcome == Decoded(frames: [], fatal: .invalidBulkLength))
        let nested = decode("*3\r\n$5\r\nEMBED\r\n$9\r\naaaaaaaaa\r\n*1\r\n", limits: smallLimits)
        #expect(nested.fatal?.code == .unexpectedType)
        let noCRLF = decode("*2\r\n$5\r\nEMBED\r\n$9\r\naaaaaaaaaXY", limits: smallLimits)
        #expect(noCRLF.fatal == .invalidCRLF)
    }

    @Test func exactlyMaxArgumentsIsAcceptedAndOneMoreIsRejected() {
        let four = decode(wire("MEMBED", "a", "b", "c"), limits: smallLimits)
        #expect(four.frames == [command("MEMBED", "a", "b", "c")])
        let five = decode(wire("MEMBED", "a", "b", "c", "d") + wire("PING"), limits: smallLimits, chunkSize: 3)
        #expect(five.frames == [.rejected(.tooManyArguments(count: 5, limit: 4)), command("PING")])
        #expect(five.fatal == nil)
    }

    @Test func exactlyHardMaxArgumentsIsSkippedAndOneMoreIsFatal() {
        let sixteen = Array(repeating: "a", count: 16)
        var input = "*16\r\n"
        for argument in sixteen { input += "$1\r\n\(argument)\r\n" }
        let skipped = decode(input + wire("PING"), limits: smallLimits)
        #expect(skipped.frames == [.rejected(.tooManyArguments(count: 16, limit: 4)), command("PING")])
        #expect(decode("*17\r\n", limits: smallLimits) == Decoded(frames: [], fatal: .invalidMultibulkLength))
    }

    @Test func anInlineLineOfExactlyTheLimitIsAcceptedWithLFOrCRLF() {
        let argument = String(repeating: "p", count: 27)
        let line = "PING " + argument  // 32 bytes
        var limits = smallLimits
        limits.maxBulkLength = 32
        for ending in ["\n", "\r\n"] {
            for chunk in [nil, 1] as [Int?] {
                #expect(decode(line + ending, limits: limits, chunkSize: chunk).frames == [inline("PING", argument)])
            }
        }
        // With the 8-byte argument limit the line still fits, but its argument doesn't: refused, not fatal.
        #expect(
            decode(line + "\r\n", limits: smallLimits)
                == Decoded(
                    frames: [.rejected(.argumentTooLong(index: 1, length: 27, limit: 8))],
                    fatal: nil
                )
        )
    }

    @Test func anInlineLineOneOverTheLimitIsFatalWhateverTheLineEnding() {
        let line = String(repeating: "x", count: 33)
        for ending in ["\n", "\r\n"] {
            for chunk in [nil, 1] as [Int?] {
                #expect(decode(line + ending, limits: smallLimits, chunkSize: chunk).fatal == .tooBigInlineRequest)
            }
        }
    }

    @Test func anInlineLineWithoutNewlineWaitsUntilItCannotFitAnyMore() {
        // 33 bytes could still be 32 + CR; 34 bytes without LF cannot be a line within the limit.
        let waiting = decode(String(repeating: "x", count: 32) + "\r", limits: smallLimits)
        #expect(waiting == Decoded(frames: [], fatal: nil))
        #expect(decode(String(repeating: "x", count: 33), limits: smallLimits).fatal == nil)
        #expect(decode(String(repeating: "x", count: 34), limits: smallLimits).fatal == .tooBigInlineRequest)
    }

    @Test func inlineCommandsObeyTheArgumentLimitsToo() {
        #expect(decode("a b c d\n", limits: smallLimits).frames == [inline("a", "b", "c", "d")])
        #expect(
            decode("a b c d e\nPING\n", limits: smallLimits).frames == [
                .rejected(.tooManyArguments(count: 5, limit: 4)), inline("PING"),
            ]
        )
    }

    @Test func aRejectedBulkIsConsumedAsItArrivesNotBuffered() throws {
        // 1 MiB argument against the default 64 KiB limit: after each 4 KiB chunk nothing is left buffered.
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "*2\r\n$5\r\nEMBED\r\n$1048576\r\n")
        #expect(try parser.next(&buffer) == nil)
        #expect(buffer.readableBytes == 0)
        let chunk = [UInt8](repeating: 0x61, count: 4096)
        for _ in 0..<256 {
            buffer.writeBytes(chunk)
            #expect(try parser.next(&buffer) == nil)
            #expect(buffer.readableBytes == 0)
        }
        buffer.writeString("\r\n" + wire("PING"))
        let rejected = try parser.next(&buffer)
        #expect(rejected == .rejected(.argumentTooLong(index: 1, length: 1_048_576, limit: 65536)))
        #expect(try parser.next(&buffer) == command("PING"))
        #expect(parser.isIdle)
    }

    @Test func limitsCanBeTightenedBetweenRequests() throws {
        var decoder = RESPCommandDecoder()
        var buffer = ByteBuffer(string: wire("AUTH", "0123456789") + wire("AUTH", "0123456789"))
        #expect(try decoder.decode(buffer: &buffer) == command("AUTH", "0123456789"))
        decoder.parser.limits.maxBulkLength = 8
        #expect(try decoder.decode(buffer: &buffer) == .rejected(.argumentTooLong(index: 1, length: 10, limit: 8)))
    }
}
