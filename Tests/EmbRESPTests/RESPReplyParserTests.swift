// RESPReplyParser: every RESP2/RESP3 type, all-or-nothing incremental parsing, the depth bound, and
// round trips through the encoder.

import NIOCore
import Testing

import EmbRESP

@Suite struct RESPReplyParserTests {
    private func parseAll(_ text: String, parser: RESPReplyParser = RESPReplyParser()) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        for _ in 0..<text.utf8.count {
            guard let value = try parser.parse(&buffer) else { break }
            values.append(value)
        }
        #expect(buffer.readableBytes == 0, "left over: \(String(buffer: buffer))")
        return values
    }

    @Test func everyTypeParses() throws {
        let text =
            "+OK\r\n-ERR bad\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n_\r\n,1.5\r\n,inf\r\n#t\r\n#f\r\n"
            + "(123456789012345678901234567890\r\n!9\r\nERR blob!\r\n=8\r\ntxt:text\r\n"
            + "%1\r\n+key\r\n:1\r\n~2\r\n:1\r\n:2\r\n>2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"
        let values = try parseAll(text)
        let expected: [RESPValue] = [
            .simpleString("OK"), .error("ERR bad"), .integer(-42), .bulk("hello"), .bulk(""), .bulkString(nil),
            .array(nil), .array([]), .null, .double(1.5), .double(.infinity), .boolean(true), .boolean(false),
            .bigNumber("123456789012345678901234567890"), .error("ERR blob!"), .bulk("text"),
            .map([RESPMapEntry(key: .simpleString("key"), value: .integer(1))]),
            .set([.integer(1), .integer(2)]), .push([.bulk("message"), .bulk("x")]),
        ]
        #expect(values == expected)
    }

    @Test func anIncompleteReplyReturnsNilAndConsumesNothingAtEveryCut() throws {
        let text = "*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n*2\r\n:1\r\n,2.5\r\n_\r\n"
        let bytes = Array(text.utf8)
        let parser = RESPReplyParser()
        for cut in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[0..<cut])
            #expect(try parser.parse(&buffer) == nil, "cut at \(cut)")
            #expect(buffer.readableBytes == cut)
        }
        var whole = ByteBuffer(bytes: bytes)
        #expect(try parser.parse(&whole) != nil)
        #expect(whole.readableBytes == 0)
    }

    @Test func nestingUpToTheDepthLimitParsesAndOneDeeperIsRefused() throws {
        let parser = RESPReplyParser(maxDepth: 64)
        let ok = String(repeating: "*1\r\n", count: 64) + ":1\r\n"
        var buffer = ByteBuffer(string: ok)
        var value = try parser.parse(&buffer)
        for _ in 0..<64 {
            guard case .array(let elements?)? = value, elements.count == 1 else {
                Issue.record("not nested as expected")
                return
            }
            value = elements[0]
        }
        #expect(value == .integer(1))

        var deep = ByteBuffer(string: String(repeating: "*1\r\n", count: 65) + ":1\r\n")
        #expect(throws: RESPProtocolError.nestingTooDeep(limit: 64)) { try parser.parse(&deep) }
        // Refused as soon as the 65th header arrives, before any element.
        var early = ByteBuffer(string: String(repeating: "*1\r\n", count: 65))
        #expect(throws: RESPProtocolError.nestingTooDeep(limit: 64)) { try parser.parse(&early) }
        // Chained attributes count as depth too, so they can't recurse without bound.
        var attributes = ByteBuffer(string: String(repeating: "|0\r\n", count: 65) + ":1\r\n")
        #expect(throws: RESPProtocolError.nestingTooDeep(limit: 64)) { try parser.parse(&attributes) }
    }

    @Test func attributesAreDroppedAndTheValueTheyAnnotateIsReturned() throws {
        let values = try parseAll("|1\r\n+key-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$5\r\nhello\r\n")
        #expect(values == [.bulk("hello")])
    }

    @Test func malformedRepliesAreProtocolErrors() {
        let cases: [(String, RESPProtocolError.Code)] = [
            ("?\r\n", .unknownReplyType),
            ("$-2\r\n", .invalidBulkLength),
            ("$abc\r\n", .invalidBulkLength),
            ("$3\r\nabcXY", .invalidCRLF),
            ("*-2\r\n", .invalidMultibulkLength),
            ("*x\r\n", .invalidMultibulkLength),
            (":12a\r\n", .invalidNumber),
            (",one\r\n", .invalidNumber),
            ("#x\r\n", .invalidNumber),
            ("(12x\r\n", .invalidNumber),
            ("_x\r\n", .invalidNumber),
            ("+OK\rX", .invalidCRLF),
            ("=3\r\ntxt\r\n", .invalidBulkLength),
        ]
        for (text, code) in cases {
            var buffer = ByteBuffer(string: text)
            let error = #expect(throws: RESPProtocolError.self, "\(text)") { try RESPReplyParser().parse(&buffer) }
            #expect(error?.code == code, "\(text)")
        }
    }

    @Test func boundsOnBulkAndLineLengthAreEnforced() throws {
        let parser = RESPReplyParser(maxBulkLength: 4, maxLineLength: 4)
        var bulk = ByteBuffer(string: "$5\r\n")
        #expect(throws: RESPProtocolError.invalidBulkLength) { try parser.parse(&bulk) }
        var line = ByteBuffer(string: "+hello\r\n")
        #expect(throws: RESPProtocolError.lineTooLong(limit: 4)) { try parser.parse(&line) }
        var exact = ByteBuffer(string: "+hell\r\n$4\r\nabcd\r\n")
        #expect(try parser.parse(&exact) == .simpleString("hell"))
        #expect(try parser.parse(&exact) == .bulk("abcd"))
    }

    @Test func aHugeAnnouncedCountWithLittleDataWaitsWithoutAllocating() throws {
        var buffer = ByteBuffer(string: "*2000000000\r\n:1\r\n:2\r\n")
        #expect(try RESPReplyParser().parse(&buffer) == nil)
        #expect(buffer.readableBytes == 21)
    }

    @Test func valuesRoundTripThroughTheEncoderInRESP3() throws {
        let value = RESPValue.array([
            .map([
                RESPMapEntry(key: .bulk("server"), value: .bulk("embcache")),
                RESPMapEntry(key: .bulk("proto"), value: .integer(3)),
            ]),
            .bulkString(ByteBuffer(bytes: [0, 13, 10, 255])), .null, .double(-0.5), .boolean(false),
            .set([.simpleString("a")]), .push([.integer(7)]), .bigNumber("-99999999999999999999"),
            .error("TOOBIG too large"), .array([]),
        ])
        var buffer = ByteBuffer()
        buffer.writeRESPValue(value, version: .resp3)
        #expect(try RESPReplyParser().parse(&buffer) == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func resp3OnlyValuesComeBackDowngradedFromRESP2() throws {
        let value = RESPValue.map([RESPMapEntry(key: .bulk("proto"), value: .boolean(true))])
        var buffer = ByteBuffer()
        buffer.writeRESPValue(value, version: .resp2)
        #expect(try RESPReplyParser().parse(&buffer) == .array([.bulk("proto"), .integer(1)]))
    }
}
