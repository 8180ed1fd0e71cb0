// RESPFastFrame may only ever accept what RESPParser accepts, with the same meaning: checked on
// the frames a client sends, on their corruptions and truncations, and on random bytes near them.

import NIOCore
import Testing

import EmbHash
import EmbRESP

@Suite struct RESPFastFrameTests {
    /// What the fast path makes of `bytes`, as (argument, frame length).
    func fast(_ bytes: [UInt8], maxArgument: Int = 64 * 1024) -> (argument: [UInt8], length: Int)? {
        bytes.withUnsafeBytes { raw in
            RESPFastFrame.twoArguments(raw, upperName: "EMBED", maxArgument: maxArgument).map { (Array(raw[$0.argument]), $0.length) }
        }
    }

    @Test func recognisesWhatClientsSend() {
        for name in ["EMBED", "embed", "Embed"] {
            for text in ["", "the quick brown fox", String(repeating: "é", count: 300)] {
                let frame = Array(wire(name, text).utf8)
                let found = fast(frame + Array(wire("PING").utf8))
                #expect(found?.argument == Array(text.utf8), "\(name) \(text.prefix(10))")
                #expect(found?.length == frame.count)
            }
        }
    }

    @Test func namesOfTenLettersOrMore() {
        let frame = Array(wire("peer.membed", "a text").utf8)
        let found = frame.withUnsafeBytes { RESPFastFrame.twoArguments($0, upperName: "PEER.MEMBED", maxArgument: 100) }
        #expect(found.map { Array(frame[$0.argument]) } == Array("a text".utf8) && found?.length == frame.count)
        for other in [wire("PEER.MEMBEDS", "a"), wire("PEER,MEMBED", "a"), wire("PEER.MEMBED", "a", "b")] {
            #expect(Array(other.utf8).withUnsafeBytes { RESPFastFrame.twoArguments($0, upperName: "PEER.MEMBED", maxArgument: 100) } == nil)
        }
    }

    @Test func leavesEverythingElseToTheParser() {
        let refused = [
            wire("EMBED"), wire("EMBED", "a", "b"), wire("EMBEDS", "a"), wire("EMBE", "a"), wire("MEMBED", "a"),
            wire("EMBED.LOCATE", "a"), "EMBED hello\r\n", "*2\r\n$5\r\nEMBED\r\n$3\r\nab\r\n\r\n",  // length lies
            "*2\r\n$5\r\nEMBED\r\n$2\r\nabc\r\n", "*2\r\n$5\r\nEMBED\r\n$-1\r\n", "*2\r\n$5\r\nEMBED\r\n$01\r\na\r\n",
            "*2\r\n$5\r\nEMB\u{0}D\r\n$1\r\na\r\n", "*2\r\n$5\r\nEMBED\n\r$1\r\na\r\n",
        ]
        for input in refused { #expect(fast(Array(input.utf8)) == nil, "\(input.debugDescription)") }
        // Over the caller's limit: the parser answers -TOOBIG, not the fast path.
        #expect(fast(Array(wire("EMBED", "12345").utf8), maxArgument: 4) == nil)
        #expect(fast(Array(wire("EMBED", "1234").utf8), maxArgument: 4)?.argument == Array("1234".utf8))
        // Every cut of a frame is incomplete, never a shorter frame.
        let frame = Array(wire("EMBED", "hello world").utf8)
        for cut in 0..<frame.count { #expect(fast(Array(frame[..<cut])) == nil, "cut at \(cut)") }
    }

    @Test func agreesWithTheParserOnRandomCorruptions() {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array("*$\r\n0123456789-EMBEDembed ab".utf8)
        var accepted = 0
        for round in 0..<20_000 {
            var bytes = Array(wire("EMBED", String(repeating: "x", count: Int(rng.next() % 12))).utf8)
            // A few random edits: replace, insert or delete a byte.
            for _ in 0..<Int(rng.next() % 3) {
                let at = Int(rng.next() % UInt64(bytes.count))
                let byte = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                switch rng.next() % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            guard let found = fast(bytes) else { continue }
            accepted += 1
            var parser = RESPParser()
            var buffer = ByteBuffer(bytes: bytes)
            let frame = try? parser.next(&buffer)
            guard case .command(let command)? = frame else {
                Issue.record("round \(round): fast path took \(bytes) that the parser gives \(String(describing: frame))")
                continue
            }
            #expect(command.arguments.count == 2 && String(buffer: command.arguments[0]).uppercased() == "EMBED")
            #expect(command.arguments.last.map { Array($0.readableBytesView) } == found.argument)
            #expect(bytes.count - buffer.readableBytes == found.length, "round \(round)")
        }
        #expect(accepted > 1000, "the corruptions left too few frames intact to say anything")
    }
}
