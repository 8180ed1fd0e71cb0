// Writing RESP replies (and, for our own client, commands) straight into a ByteBuffer.
// Not here: choosing what to reply (the server), or parsing replies (RESPReplyParser).
//
// Every method appends complete RESP items at the writer index. Numbers are formatted in place
// (no String is made), and a bulk payload is copied once from its source into the buffer, so a
// 1536-byte vector costs one memcpy: `writeBulkString(bytes:)` from a pointer, or
// `writeBulkString(byteCount:fill:)` to produce the bytes directly inside the buffer.
//
// RESP2 vs RESP3 differs only for null, map, double and boolean; those take a `RESPVersion` and
// write what Redis writes for that protocol (`$-1` / `_`, flat array / `%`, bulk / `,`, `:1` / `#t`).
// The integer writer is `writeRESPInteger`, not `writeInteger`: NIOCore's `writeInteger(_:)` writes
// binary integers, and shadowing it for `Int` would silently change the meaning of existing code.

import NIOCore

/// The reply protocol a connection speaks: RESP2 until `HELLO 3`.
public enum RESPVersion: Int, Hashable, Sendable {
    /// RESP2: the Redis default.
    case resp2 = 2
    /// RESP3: after `HELLO 3` (redis-py 8's default).
    case resp3 = 3
}

extension ByteBuffer {
    /// `+text\r\n`. `text` must not contain CR or LF (a programmer error).
    public mutating func writeSimpleString(_ text: String) {
        precondition(!text.utf8.contains { $0 == RESPScan.cr || $0 == RESPScan.lf }, "simple string with CR/LF")
        self.writeInteger(UInt8(ascii: "+"))
        self.writeString(text)
        self.writeCRLF()
    }

    /// `-CODE message\r\n`, e.g. `-ERR unknown command` or `-TOOBIG ...`. CR and LF in `message` become
    /// spaces (as Redis's `addReplyErrorFormat` does), so a message can never break the framing.
    /// `code` is one word without spaces.
    public mutating func writeError(code: String, message: String) {
        precondition(!code.isEmpty && !code.utf8.contains { $0 <= 0x20 }, "error code must be one word")
        self.writeInteger(UInt8(ascii: "-"))
        self.writeString(code)
        self.writeInteger(UInt8(ascii: " "))
        if message.utf8.contains(where: { $0 == RESPScan.cr || $0 == RESPScan.lf }) {
            for byte in message.utf8 {
                self.writeInteger(byte == RESPScan.cr || byte == RESPScan.lf ? UInt8(ascii: " ") : byte)
            }
        } else {
            self.writeString(message)
        }
        self.writeCRLF()
    }

    /// The reply for a rejected request: `-TOOBIG ...` or `-ERR Protocol error: unbalanced quotes ...`.
    public mutating func writeError(_ error: RESPError) {
        self.writeError(code: error.replyCode, message: error.message)
    }

    /// The last reply before closing: `-ERR Protocol error: ...`.
    public mutating func writeError(_ error: RESPProtocolError) {
        self.writeError(code: "ERR", message: error.message)
    }

    /// `:value\r\n`.
    public mutating func writeRESPInteger(_ value: Int) {
        self.writeHeader(UInt8(ascii: ":"), value)
    }

    /// `$<n>\r\n<bytes>\r\n`, copying `bytes` once.
    public mutating func writeBulkString(bytes: UnsafeRawBufferPointer) {
        self.reserveCapacity(minimumWritableBytes: Self.maxHeaderLength + bytes.count + 2)
        self.writeHeader(UInt8(ascii: "$"), bytes.count)
        self.writeBytes(bytes)
        self.writeCRLF()
    }

    /// A bulk string of `bytes`' readable bytes (`bytes` is not consumed).
    public mutating func writeBulkString(_ bytes: ByteBuffer) {
        bytes.withUnsafeReadableBytes { self.writeBulkString(bytes: $0) }
    }

    /// A bulk string of any byte collection, e.g. `[UInt8]`.
    public mutating func writeBulkString(bytes: some Collection<UInt8>) {
        self.reserveCapacity(minimumWritableBytes: Self.maxHeaderLength + bytes.count + 2)
        self.writeHeader(UInt8(ascii: "$"), bytes.count)
        self.writeBytes(bytes)
        self.writeCRLF()
    }

    /// A bulk string of `string`'s UTF-8 bytes.
    public mutating func writeBulkString(_ string: String) {
        self.writeHeader(UInt8(ascii: "$"), string.utf8.count)
        self.writeString(string)
        self.writeCRLF()
    }

    /// A bulk string of exactly `byteCount` bytes that `fill` writes in place (e.g. a vector converted
    /// straight into the reply). `fill` must initialise all `byteCount` bytes it is given.
    public mutating func writeBulkString(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(byteCount >= 0, "negative bulk length")
        self.reserveCapacity(minimumWritableBytes: Self.maxHeaderLength + byteCount + 2)
        self.writeHeader(UInt8(ascii: "$"), byteCount)
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: byteCount) { pointer in
            fill(UnsafeMutableRawBufferPointer(rebasing: pointer[..<byteCount]))
            return byteCount
        }
        self.writeCRLF()
    }

    /// A null: `$-1\r\n` (RESP2 null bulk string) or `_\r\n` (RESP3).
    public mutating func writeNull(version: RESPVersion) {
        switch version {
        case .resp2: self.writeStaticString("$-1\r\n")
        case .resp3: self.writeStaticString("_\r\n")
        }
    }

    /// A null array: `*-1\r\n` (RESP2) or `_\r\n` (RESP3).
    public mutating func writeNullArray(version: RESPVersion) {
        switch version {
        case .resp2: self.writeStaticString("*-1\r\n")
        case .resp3: self.writeStaticString("_\r\n")
        }
    }

    /// `*<count>\r\n`; the caller then writes `count` values.
    public mutating func writeArrayHeader(_ count: Int) {
        precondition(count >= 0, "negative array length")
        self.writeHeader(UInt8(ascii: "*"), count)
    }

    /// `%<count>\r\n` in RESP3, `*<2×count>\r\n` in RESP2; the caller then writes key, value, key, value...
    public mutating func writeMapHeader(_ count: Int, version: RESPVersion) {
        precondition(count >= 0, "negative map length")
        switch version {
        case .resp2: self.writeHeader(UInt8(ascii: "*"), 2 * count)
        case .resp3: self.writeHeader(UInt8(ascii: "%"), count)
        }
    }

    /// `,<value>\r\n` in RESP3 (`inf`, `-inf`, `nan` included), a bulk string of the same text in RESP2.
    /// The text is Swift's shortest round-trip form (`1.5`, `1e+20`).
    public mutating func writeDouble(_ value: Double, version: RESPVersion) {
        let text = value.description
        switch version {
        case .resp2:
            self.writeBulkString(text)
        case .resp3:
            self.writeInteger(UInt8(ascii: ","))
            self.writeString(text)
            self.writeCRLF()
        }
    }

    /// `#t\r\n` / `#f\r\n` in RESP3, `:1\r\n` / `:0\r\n` in RESP2.
    public mutating func writeBoolean(_ value: Bool, version: RESPVersion) {
        switch version {
        case .resp2: self.writeStaticString(value ? ":1\r\n" : ":0\r\n")
        case .resp3: self.writeStaticString(value ? "#t\r\n" : "#f\r\n")
        }
    }

    /// A command as every client sends it: an array of bulk strings (whatever `command.framing` says).
    public mutating func writeCommand(_ command: RESPCommand) {
        self.writeArrayHeader(command.arguments.count)
        for argument in command.arguments {
            self.writeBulkString(argument)
        }
    }

    /// Longest `<type><int>\r\n`: 1 + 20 + 2.
    static let maxHeaderLength = 23

    /// `<type><decimal>\r\n`, formatted in place.
    @inline(__always)
    mutating func writeHeader(_ type: UInt8, _ value: Int) {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.maxHeaderLength) { pointer in
            var magnitude = value.magnitude
            var digits = 1
            var probe = magnitude
            while probe >= 10 {
                probe /= 10
                digits += 1
            }
            let sign = value < 0 ? 1 : 0
            pointer[0] = type
            if sign == 1 { pointer[1] = UInt8(ascii: "-") }
            var index = 1 + sign + digits
            pointer[index] = RESPScan.cr
            pointer[index + 1] = RESPScan.lf
            repeat {
                index -= 1
                pointer[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            return 1 + sign + digits + 2
        }
    }

    @inline(__always)
    mutating func writeCRLF() {
        self.writeInteger(UInt16(0x0D0A))
    }
}
