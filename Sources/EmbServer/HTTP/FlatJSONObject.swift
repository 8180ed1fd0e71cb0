// The common shape of a POST /v1/embeddings body, read without Foundation's JSONSerialization:
// one object whose values are strings or arrays of strings, none with an escape
// ({"input": "...", "model": "...", "encoding_format": "base64", "user": "..."}, which is what the
// openai client, LangChain and LlamaIndex send). JSONSerialization was an eighth of the node's CPU
// per HTTP hit (it builds a JSON tree, then Foundation objects from it). This reader gives up
// (nil) on anything else: an escape, a number, true/false/null, a nested value, a duplicate key,
// a control character, bytes that are not UTF-8, trailing bytes; the caller then takes
// JSONSerialization, so every body means what JSON says it means, and the slow reader is the
// judge of every body this one refuses.
enum FlatJSONObject {
    /// The object in `body` (String and [Any] of String values), or nil: not this shape.
    static func parse(_ body: UnsafeRawBufferPointer) -> [String: Any]? {
        var reader = Reader(bytes: body.assumingMemoryBound(to: UInt8.self))
        return reader.object()
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        mutating func object() -> [String: Any]? {
            self.skipSpace()
            guard self.take(UInt8(ascii: "{")) else { return nil }
            var object: [String: Any] = [:]
            self.skipSpace()
            if !self.take(UInt8(ascii: "}")) {
                repeat {
                    self.skipSpace()
                    guard let key = self.string(), object[key] == nil else { return nil }
                    self.skipSpace()
                    guard self.take(UInt8(ascii: ":")) else { return nil }
                    self.skipSpace()
                    guard let value = self.value() else { return nil }
                    object[key] = value
                    self.skipSpace()
                } while self.take(UInt8(ascii: ","))
                guard self.take(UInt8(ascii: "}")) else { return nil }
            }
            self.skipSpace()
            return self.i == self.bytes.count ? object : nil
        }

        /// A string or an array of strings.
        mutating func value() -> Any? {
            guard self.i < self.bytes.count else { return nil }
            if self.bytes[self.i] == UInt8(ascii: "\"") { return self.string() }
            guard self.take(UInt8(ascii: "[")) else { return nil }
            var array: [Any] = []
            self.skipSpace()
            if self.take(UInt8(ascii: "]")) { return array }
            repeat {
                self.skipSpace()
                guard let s = self.string() else { return nil }
                array.append(s)
                self.skipSpace()
            } while self.take(UInt8(ascii: ","))
            return self.take(UInt8(ascii: "]")) ? array : nil
        }

        /// A string without escapes or control characters, in valid UTF-8.
        mutating func string() -> String? {
            guard self.take(UInt8(ascii: "\"")) else { return nil }
            let start = self.i
            var ascii = true
            while self.i < self.bytes.count {
                let b = self.bytes[self.i]
                if b == UInt8(ascii: "\"") {
                    let raw = UnsafeBufferPointer(rebasing: self.bytes[start..<self.i])
                    self.i += 1
                    return ascii ? String(decoding: raw, as: UTF8.self) : String(validating: raw, as: UTF8.self)
                }
                if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
                if b >= 0x80 { ascii = false }
                self.i += 1
            }
            return nil
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard self.i < self.bytes.count, self.bytes[self.i] == byte else { return false }
            self.i += 1
            return true
        }

        mutating func skipSpace() {
            while self.i < self.bytes.count {
                switch self.bytes[self.i] {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): self.i += 1
                default: return
                }
            }
        }
    }
}
