// Inline requests split like Redis's sdssplitargs: blanks, double quotes with escapes, single quotes,
// the closing-quote rule, NUL as the end of the line, and plain tokens kept as slices.

import NIOCore
import Testing

import EmbRESP

@Suite struct RESPInlineParserTests {
    private func split(_ line: String) -> [String]? {
        RESPInlineParser.split(ByteBuffer(string: line))?.map { String(buffer: $0) }
    }

    private func splitBytes(_ line: [UInt8]) -> [[UInt8]]? {
        RESPInlineParser.split(ByteBuffer(bytes: line))?.map { Array($0.readableBytesView) }
    }

    @Test func blanksSeparateArgumentsAndRunsOfThemCollapse() {
        #expect(split("set key value") == ["set", "key", "value"])
        #expect(split("  set \t key \u{0B}\u{0C} value  ") == ["set", "key", "value"])
        #expect(split("") == [])
        #expect(split("   \t ") == [])
    }

    @Test func doubleQuotesKeepSpacesAndTakeEscapes() {
        #expect(split("set \"a b\" \"\"") == ["set", "a b", ""])
        #expect(split(#"x "\n\r\t\b\a\"\\\q""#) == ["x", "\n\r\t\u{8}\u{7}\"\\q"])
        #expect(
            splitBytes(Array(#"x "\x41\xff\x00\xZZ""#.utf8)) == [
                Array("x".utf8), [0x41, 0xFF, 0x00] + Array("xZZ".utf8),
            ]
        )
    }

    @Test func singleQuotesTakeOnlyEscapedSingleQuotes() {
        #expect(split(#"x 'a\'b' 'c\nd'"#) == ["x", "a'b", #"c\nd"#])
    }

    @Test func aQuoteMayStartInsideAnArgument() {
        #expect(split(#"get ab"c d""#) == ["get", "ab" + "c d"])
        #expect(split("get ab'c d'") == ["get", "abc d"])
    }

    @Test func aClosingQuoteMustBeFollowedByABlankOrTheEnd() {
        #expect(split(#"get "a"b"#) == nil)
        #expect(split("get 'a'b") == nil)
        #expect(split("get \"a\"\tb") == ["get", "a", "b"])
        // valkey's "Mixing quoted and unquoted strings" line: refused by the classic sdssplitargs rules
        // that Redis keeps (valkey relaxed them).
        #expect(split(#"set """tes"t-'k'e"y" "test"'-'value"#) == nil)
    }

    @Test func anUnclosedQuoteIsRefused() {
        #expect(split("get \"abc") == nil)
        #expect(split("get 'abc") == nil)
        #expect(split(#"get "abc\"#) == nil)
    }

    @Test func aNulByteEndsTheLineAsInC() {
        #expect(splitBytes(Array("get a".utf8) + [0] + Array("b c".utf8)) == [Array("get".utf8), Array("a".utf8)])
        #expect(splitBytes(Array("get \"a".utf8) + [0] + Array("\"".utf8)) == nil)
    }

    @Test func verticalTabAndFormFeedDoNotEndAnUnquotedArgument() {
        // sdssplitargs ends plain tokens only at space, \n, \r, \t and NUL: a quirk kept for fidelity.
        #expect(split("a\u{0B}b c") == ["a\u{0B}b", "c"])
    }

    @Test func plainArgumentsAreSlicesAndQuotedOnesAreRebuilt() {
        let tokens = ByteBuffer(string: #"get key "q""#).withUnsafeReadableBytes { RESPInlineParser.splitTokens($0) }
        #expect(tokens == [.slice(0..<3), .slice(4..<7), .rebuilt(Array("q".utf8))])
    }

    @Test func inlineRequestsEndWithLFOrCRLFAndEmptyLinesAreIgnored() {
        let outcome = decode("PING\n\r\n\n   \r\nECHO \"hi there\"\r\n")
        #expect(outcome == Decoded(frames: [inline("PING"), inline("ECHO", "hi there")], fatal: nil))
    }
}
