// A parsed or to-be-written RESP2/RESP3 reply value, for tests and for our own peer client.
// Not the server's hot path: replies there are written straight into a ByteBuffer with the
// `ByteBuffer+RESPEncoding` methods, without building values first.
//
// RESP2 has two nulls (`$-1` null bulk, `*-1` null array), kept as `.bulkString(nil)` and
// `.array(nil)`; RESP3 has one (`_`), kept as `.null`. Maps keep their wire order (the HELLO reply
// is compared byte for byte), so they are a list of entries, not a Dictionary.

import NIOCore

/// One RESP value.
public enum RESPValue: Hashable, Sendable {
    /// `+OK`: a line of text without CR or LF.
    case simpleString(String)
    /// `-ERR message` (or a RESP3 blob error `!`): the full text after `-`, code included.
    case error(String)
    /// `:42`.
    case integer(Int)
    /// `$<n>` binary-safe bytes; nil is the RESP2 null bulk string `$-1`.
    case bulkString(ByteBuffer?)
    /// `*<n>` elements; nil is the RESP2 null array `*-1`.
    case array([RESPValue]?)
    /// RESP3 `%<n>` key-value pairs, in wire order. Written as a flat array of 2n in RESP2.
    case map([RESPMapEntry])
    /// RESP3 `~<n>` set (written as an array in RESP2).
    case set([RESPValue])
    /// RESP3 `><n>` out-of-band push (written as an array in RESP2).
    case push([RESPValue])
    /// RESP3 `_`.
    case null
    /// RESP3 `,1.5` (written as a bulk string in RESP2, as Redis does).
    case double(Double)
    /// RESP3 `#t` / `#f` (written as `:1` / `:0` in RESP2).
    case boolean(Bool)
    /// RESP3 `(` big number, kept as its decimal text (written as a bulk string in RESP2).
    case bigNumber(String)

    /// A bulk string holding `string`'s UTF-8 bytes.
    public static func bulk(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// An array of bulk strings, as a client sends a command.
    public static func command(_ arguments: String...) -> RESPValue {
        .array(arguments.map { .bulk($0) })
    }

    /// The bytes of a bulk string (or the text of a simple string) as UTF-8, else nil.
    public var string: String? {
        switch self {
        case .simpleString(let text), .bigNumber(let text): return text
        case .bulkString(let bytes?): return String(buffer: bytes)
        default: return nil
        }
    }
}

/// One key-value pair of a RESP3 map.
public struct RESPMapEntry: Hashable, Sendable {
    /// The key (usually a bulk or simple string).
    public var key: RESPValue
    /// The value.
    public var value: RESPValue

    /// A pair.
    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension ByteBuffer {
    /// Writes `value` for a `version` connection, downgrading RESP3-only types in RESP2 the way Redis
    /// does (map → flat array, set/push → array, null → `$-1`, double/big number → bulk string,
    /// boolean → integer). RESP2 nulls (`.bulkString(nil)`, `.array(nil)`) are `_` in RESP3.
    public mutating func writeRESPValue(_ value: RESPValue, version: RESPVersion) {
        switch value {
        case .simpleString(let text):
            self.writeSimpleString(text)
        case .error(let text):
            precondition(!text.utf8.contains { $0 == RESPScan.cr || $0 == RESPScan.lf }, "error with CR/LF")
            self.writeInteger(UInt8(ascii: "-"))
            self.writeString(text)
            self.writeCRLF()
        case .integer(let number):
            self.writeRESPInteger(number)
        case .bulkString(let bytes?):
            self.writeBulkString(bytes)
        case .bulkString(nil):
            self.writeNull(version: version)
        case .array(let elements?):
            self.writeAggregate(UInt8(ascii: "*"), elements, version: version)
        case .array(nil):
            self.writeNullArray(version: version)
        case .map(let entries):
            self.writeMapHeader(entries.count, version: version)
            for entry in entries {
                self.writeRESPValue(entry.key, version: version)
                self.writeRESPValue(entry.value, version: version)
            }
        case .set(let elements):
            self.writeAggregate(version == .resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"), elements, version: version)
        case .push(let elements):
            self.writeAggregate(version == .resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"), elements, version: version)
        case .null:
            self.writeNull(version: version)
        case .double(let number):
            self.writeDouble(number, version: version)
        case .boolean(let flag):
            self.writeBoolean(flag, version: version)
        case .bigNumber(let digits):
            switch version {
            case .resp2:
                self.writeBulkString(digits)
            case .resp3:
                self.writeInteger(UInt8(ascii: "("))
                self.writeString(digits)
                self.writeCRLF()
            }
        }
    }

    private mutating func writeAggregate(_ type: UInt8, _ elements: [RESPValue], version: RESPVersion) {
        self.writeHeader(type, elements.count)
        for element in elements {
            self.writeRESPValue(element, version: version)
        }
    }
}
