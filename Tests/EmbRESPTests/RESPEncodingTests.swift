// Golden bytes for every reply type the encoder writes, in RESP2 and RESP3. The expected strings are
// what redis-server sends for the same reply (checked against the RESP2/RESP3 specs).

import NIOCore
import Testing

import EmbRESP

@Suite struct RESPEncodingTests {
    @Test func simpleStringsErrorsAndIntegers() {
        #expect(written { $0.writeSimpleString("OK") } == "+OK\r\n")
        #expect(written { $0.writeSimpleString("") } == "+\r\n")
        #expect(
            written { $0.writeError(code: "ERR", message: "unknown command 'FOO'") } == "-ERR unknown command 'FOO'\r\n"
        )
        #expect(written { $0.writeError(code: "TOOBIG", message: "text too large") } == "-TOOBIG text too large\r\n")
        #expect(written { $0.writeRESPInteger(0) } == ":0\r\n")
        #expect(written { $0.writeRESPInteger(42) } == ":42\r\n")
        #expect(written { $0.writeRESPInteger(-7) } == ":-7\r\n")
        #expect(written { $0.writeRESPInteger(1_000_000_000) } == ":1000000000\r\n")
        #expect(written { $0.writeRESPInteger(Int.max) } == ":9223372036854775807\r\n")
        #expect(written { $0.writeRESPInteger(Int.min) } == ":-9223372036854775808\r\n")
    }

    @Test func errorMessagesCannotBreakTheFraming() {
        #expect(written { $0.writeError(code: "ERR", message: "bad\r\nthing\n") } == "-ERR bad  thing \r\n")
    }

    @Test func decoderErrorsBecomeTheirReplies() {
        #expect(
            written { $0.writeError(RESPProtocolError.invalidBulkLength) }
                == "-ERR Protocol error: invalid bulk length\r\n"
        )
        #expect(
            written { $0.writeError(RESPProtocolError.tooBigInlineRequest) }
                == "-ERR Protocol error: too big inline request\r\n"
        )
        #expect(
            written { $0.writeError(RESPError.unbalancedQuotes) }
                == "-ERR Protocol error: unbalanced quotes in request\r\n"
        )
        #expect(
            written { $0.writeError(RESPError.tooManyArguments(count: 5000, limit: 4096)) }
                == "-TOOBIG request has 5000 arguments, the limit is 4096\r\n"
        )
    }

    @Test func bulkStringsFromEverySource() {
        #expect(written { $0.writeBulkString("hello") } == "$5\r\nhello\r\n")
        #expect(written { $0.writeBulkString("") } == "$0\r\n\r\n")
        #expect(written { $0.writeBulkString("caf\u{e9}") } == "$5\r\ncaf\u{e9}\r\n")
        #expect(written { $0.writeBulkString(ByteBuffer(string: "slice")) } == "$5\r\nslice\r\n")
        #expect(written { $0.writeBulkString(bytes: [UInt8]("abc".utf8)) } == "$3\r\nabc\r\n")
        let raw: [UInt8] = [104, 105]
        #expect(written { buffer in raw.withUnsafeBytes { buffer.writeBulkString(bytes: $0) } } == "$2\r\nhi\r\n")
        #expect(
            written { $0.writeBulkString(byteCount: 3) { $0.copyBytes(from: [UInt8]("xyz".utf8)) } } == "$3\r\nxyz\r\n"
        )
    }

    @Test func aVectorIsOneHeaderAndItsBytesCopiedOnce() {
        let vector = (0..<384).map { Float($0) / 384 }
        var buffer = ByteBuffer()
        vector.withUnsafeBytes { buffer.writeBulkString(bytes: $0) }
        #expect(buffer.readableBytes == "$1536\r\n".utf8.count + 1536 + 2)
        #expect(buffer.readString(length: 7) == "$1536\r\n")
        let payload = buffer.readBytes(length: 1536)!
        #expect(payload == vector.withUnsafeBytes { Array($0) })
        #expect(buffer.readString(length: 2) == "\r\n")
    }

    @Test func nullsDifferBetweenRESP2AndRESP3() {
        #expect(written { $0.writeNull(version: .resp2) } == "$-1\r\n")
        #expect(written { $0.writeNull(version: .resp3) } == "_\r\n")
        #expect(written { $0.writeNullArray(version: .resp2) } == "*-1\r\n")
        #expect(written { $0.writeNullArray(version: .resp3) } == "_\r\n")
    }

    @Test func arrayAndMapHeaders() {
        #expect(written { $0.writeArrayHeader(0) } == "*0\r\n")
        #expect(written { $0.writeArrayHeader(2048) } == "*2048\r\n")
        #expect(written { $0.writeMapHeader(7, version: .resp3) } == "%7\r\n")
        #expect(written { $0.writeMapHeader(7, version: .resp2) } == "*14\r\n")
    }

    @Test func doublesAndBooleans() {
        #expect(written { $0.writeDouble(1.5, version: .resp3) } == ",1.5\r\n")
        #expect(written { $0.writeDouble(1.5, version: .resp2) } == "$3\r\n1.5\r\n")
        #expect(written { $0.writeDouble(.infinity, version: .resp3) } == ",inf\r\n")
        #expect(written { $0.writeDouble(-.infinity, version: .resp3) } == ",-inf\r\n")
        #expect(written { $0.writeDouble(.nan, version: .resp3) } == ",nan\r\n")
        #expect(written { $0.writeBoolean(true, version: .resp3) } == "#t\r\n")
        #expect(written { $0.writeBoolean(false, version: .resp3) } == "#f\r\n")
        #expect(written { $0.writeBoolean(true, version: .resp2) } == ":1\r\n")
        #expect(written { $0.writeBoolean(false, version: .resp2) } == ":0\r\n")
    }

    /// The shape of our HELLO reply: a map in RESP3, a flat array in RESP2.
    private let hello = RESPValue.map([
        RESPMapEntry(key: .bulk("server"), value: .bulk("embcache")),
        RESPMapEntry(key: .bulk("proto"), value: .integer(3)),
        RESPMapEntry(key: .bulk("modules"), value: .array([])),
    ])

    @Test func aHelloMapIsAMapInRESP3AndAFlatArrayInRESP2() {
        #expect(
            written { $0.writeRESPValue(self.hello, version: .resp3) }
                == "%3\r\n$6\r\nserver\r\n$8\r\nembcache\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n"
        )
        #expect(
            written { $0.writeRESPValue(self.hello, version: .resp2) }
                == "*6\r\n$6\r\nserver\r\n$8\r\nembcache\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n"
        )
    }

    @Test func everyValueKindHasItsRESP2AndRESP3Form() {
        let cases: [(RESPValue, resp2: String, resp3: String)] = [
            (.simpleString("PONG"), "+PONG\r\n", "+PONG\r\n"),
            (.error("WRONGTYPE no"), "-WRONGTYPE no\r\n", "-WRONGTYPE no\r\n"),
            (.integer(-1), ":-1\r\n", ":-1\r\n"),
            (.bulk("v"), "$1\r\nv\r\n", "$1\r\nv\r\n"),
            (.bulkString(nil), "$-1\r\n", "_\r\n"),
            (.array(nil), "*-1\r\n", "_\r\n"),
            (.null, "$-1\r\n", "_\r\n"),
            (.array([.integer(1), .bulk("a")]), "*2\r\n:1\r\n$1\r\na\r\n", "*2\r\n:1\r\n$1\r\na\r\n"),
            (.set([.bulk("a")]), "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"),
            (.push([.bulk("message")]), "*1\r\n$7\r\nmessage\r\n", ">1\r\n$7\r\nmessage\r\n"),
            (.double(0.25), "$4\r\n0.25\r\n", ",0.25\r\n"),
            (.boolean(true), ":1\r\n", "#t\r\n"),
            (.bigNumber("12345678901234567890"), "$20\r\n12345678901234567890\r\n", "(12345678901234567890\r\n"),
        ]
        for (value, resp2, resp3) in cases {
            #expect(written { $0.writeRESPValue(value, version: .resp2) } == resp2, "\(value)")
            #expect(written { $0.writeRESPValue(value, version: .resp3) } == resp3, "\(value)")
        }
    }

    @Test func aCommandIsWrittenAsAnArrayOfBulkStrings() {
        #expect(
            written { $0.writeCommand(RESPCommand(["EMBED", "hi there"], framing: .inline)) }
                == "*2\r\n$5\r\nEMBED\r\n$8\r\nhi there\r\n"
        )
    }
}
