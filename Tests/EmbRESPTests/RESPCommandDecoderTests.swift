// RESPCommandDecoder in a real NIO pipeline: split frames (ByteToMessageDecoderVerifier), pipelining,
// byte-by-byte delivery, slices instead of copies, fatal errors and end of input.

import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

import EmbRESP

@Suite struct RESPCommandDecoderTests {
    @Test func splitFramesDecodeTheSameHoweverTheyArrive() throws {
        // The verifier feeds these whole, byte by byte (with foreign bytes around each), and all in one
        // buffer, in shuffled order; every way must give the same frames.
        let pairs: [(String, [RESPFrame])] = [
            (wire("GET", "key"), [command("GET", "key")]),
            (wire("EMBED", "hi world"), [command("EMBED", "hi world")]),  // exactly the 8-byte limit
            (wire("SET", "", "v"), [command("SET", "", "v")]),
            ("PING\r\n", [inline("PING")]),
            ("EMBED \"a b\" 'c d'\n", [inline("EMBED", "a b", "c d")]),
            ("\r\n", []),
            ("*0\r\n", []),
            ("*-1\r\n", []),
            (wire("EMBED", "123456789"), [.rejected(.argumentTooLong(index: 1, length: 9, limit: 8))]),
            (wire("M", "a", "b", "c", "d"), [.rejected(.tooManyArguments(count: 5, limit: 4))]),
            ("GET 'x\r\n", [.rejected(.unbalancedQuotes)]),
            (wire("MEMBED", "a", "b", "c"), [command("MEMBED", "a", "b", "c")]),
        ]
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: pairs,
            decoderFactory: { RESPCommandDecoder(limits: smallLimits) }
        )
    }

    @Test func sixteenPipelinedCommandsInOneBufferGiveSixteenFramesInOrder() throws {
        // redis-benchmark -P 16 sends exactly this.
        var input = ""
        for index in 0..<16 { input += wire("GET", "key:\(index)") }
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPCommandDecoder()))
        try channel.writeInbound(ByteBuffer(string: input))
        for index in 0..<16 {
            #expect(try channel.readInbound(as: RESPFrame.self) == command("GET", "key:\(index)"))
        }
        #expect(try channel.readInbound(as: RESPFrame.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test func byteByByteDeliveryDecodesLikeOneBuffer() {
        var input = wire("EMBED", "the quick brown fox") + "PING\r\n" + wire("MEMBED", "a", "bb", "ccc")
        input += "\n" + "*0\r\n" + wire("INFO")
        let whole = decode(input)
        #expect(whole.fatal == nil)
        #expect(whole.frames.count == 4)
        #expect(decode(input, chunkSize: 1) == whole)
        #expect(decode(input, chunkSize: 2) == whole)
        #expect(decode(input, chunkSize: 13) == whole)
    }

    @Test func argumentsAreSlicesOfTheReceiveBufferNotCopies() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: wire("EMBED", "some text to embed"))
        let base = buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        guard case .command(let request)? = try parser.next(&buffer) else {
            Issue.record("no command")
            return
        }
        let text = request.arguments[1]
        let textAddress = text.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        // "*2\r\n$5\r\nEMBED\r\n$18\r\n" is 20 bytes.
        #expect(textAddress == base + 20)
        #expect(String(buffer: text) == "some text to embed")
    }

    @Test func aProtocolErrorIsThrownThroughThePipeline() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPCommandDecoder()))
        try channel.writeInbound(ByteBuffer(string: wire("PING")))
        #expect(try channel.readInbound(as: RESPFrame.self) == command("PING"))
        #expect(throws: RESPProtocolError.invalidBulkLength) {
            try channel.writeInbound(ByteBuffer(string: "*1\r\n$-10\r\n"))
        }
        _ = try? channel.finish()
    }

    @Test func aRequestCutShortByEndOfInputIsDroppedWithoutLeftoverError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPCommandDecoder()))
        try channel.writeInbound(ByteBuffer(string: wire("PING") + "*2\r\n$5\r\nEMB"))
        #expect(try channel.readInbound(as: RESPFrame.self) == command("PING"))
        let state = try channel.finish()
        #expect(state.isClean)
    }

    @Test func theCommandNameMatchesCaseInsensitivelyWithoutStrings() {
        let request = RESPCommand(["eMbEd", "text"])
        #expect(request.hasName("EMBED"))
        #expect(request.hasName("embed"))
        #expect(!request.hasName("EMBED.LOCATE"))
        #expect(!request.hasName("EMBE"))
        #expect(!RESPCommand(arguments: []).hasName("EMBED"))
    }

    @Test func aWrittenCommandDecodesBackToItself() throws {
        let original = RESPCommand(["MEMBED", "", "two words", "caf\u{e9}", String(repeating: "z", count: 1000)])
        var buffer = ByteBuffer()
        buffer.writeCommand(original)
        var parser = RESPParser()
        #expect(try parser.next(&buffer) == .command(original))
        #expect(buffer.readableBytes == 0)
    }

    @Test func binaryArgumentsWithCRLFInsideSurviveIntact() throws {
        let payload: [UInt8] = [0, 13, 10, 255, 36, 42, 13, 10]
        var buffer = ByteBuffer()
        buffer.writeArrayHeader(2)
        buffer.writeBulkString("SET")
        buffer.writeBulkString(bytes: payload)
        var parser = RESPParser()
        guard case .command(let request)? = try parser.next(&buffer) else {
            Issue.record("no command")
            return
        }
        #expect(Array(request.arguments[1].readableBytesView) == payload)
    }
}
