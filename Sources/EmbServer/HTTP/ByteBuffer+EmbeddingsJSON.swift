// The body of an OpenAI embeddings reply, written straight into a ByteBuffer: the list header, one
// object per vector (384 float32 read from the 1536-byte little-endian wire form, as JSON numbers or
// as base64 of the raw bytes, which is what the `openai` client asks for by default) and the footer
// with `usage`. Written by hand because a reply is mostly numbers: JSONSerialization would box 384
// NSNumbers per vector, and a String per float costs an allocation each.
import NIOCore

extension ByteBuffer {
    /// `{"object":"list","data":[`
    mutating func writeEmbeddingsHeader() {
        self.writeStaticString(#"{"object":"list","data":["#)
    }

    /// One `{"object":"embedding","index":i,"embedding":...}`, comma-separated from the previous one.
    mutating func writeEmbedding(index: Int, _ vector: UnsafeRawBufferPointer, base64: Bool) {
        if index > 0 { self.writeStaticString(",") }
        self.writeStaticString(#"{"object":"embedding","index":"#)
        self.writeString(String(index))
        self.writeStaticString(#","embedding":"#)
        if base64 {
            self.writeStaticString("\"")
            self.writeBase64(vector)
            self.writeStaticString("\"")
        } else {
            self.writeStaticString("[")
            for j in 0..<(vector.count / 4) {
                if j > 0 { self.writeStaticString(",") }
                let f = Float(bitPattern: UInt32(littleEndian: vector.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self)))
                self.writeShortest(f)
            }
            self.writeStaticString("]")
        }
        self.writeStaticString("}")
    }

    /// `],"model":...,"usage":{...}}`
    mutating func writeEmbeddingsFooter(model: String, tokens: Int) {
        self.writeStaticString(#"],"model":""#)
        self.writeString(model)  // one of the served names: no characters to escape
        self.writeStaticString(#"","usage":{"prompt_tokens":"#)
        self.writeString(String(tokens))
        self.writeStaticString(#","total_tokens":"#)
        self.writeString(String(tokens))
        self.writeStaticString("}}")
    }

    /// The shortest decimal that reads back as exactly `f` (Swift's own float printing, Float's
    /// `description`), written without a String: the standard library hands a TextOutputStream the
    /// ASCII digits through `_writeASCII(_:)`, here into a stack scratch, then into the buffer.
    mutating func writeShortest(_ f: Float) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { scratch in
            var sink = ScratchASCIISink(scratch: scratch)
            f.write(to: &sink)
            self.writeBytes(UnsafeBufferPointer(rebasing: scratch[..<sink.count]))
        }
    }

    /// Standard base64 (RFC 4648, with padding) of `bytes`.
    mutating func writeBase64(_ bytes: UnsafeRawBufferPointer) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let table = UnsafeRawBufferPointer(start: alphabet.utf8Start, count: 64)
        let groups = (bytes.count + 2) / 3
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 * groups) { out in
            var o = 0
            var i = 0
            while i + 3 <= bytes.count {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out[o] = table[Int(v >> 18)]
                out[o + 1] = table[Int(v >> 12 & 63)]
                out[o + 2] = table[Int(v >> 6 & 63)]
                out[o + 3] = table[Int(v & 63)]
                (i, o) = (i + 3, o + 4)
            }
            let rest = bytes.count - i
            if rest > 0 {
                let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                out[o] = table[Int(v >> 18)]
                out[o + 1] = table[Int(v >> 12 & 63)]
                out[o + 2] = rest == 2 ? table[Int(v >> 6 & 63)] : UInt8(ascii: "=")
                out[o + 3] = UInt8(ascii: "=")
                o += 4
            }
            return o
        }
    }
}

/// A TextOutputStream into a fixed scratch (a float's digits: at most 15 bytes, "-1.17549435e-38").
struct ScratchASCIISink: TextOutputStream {
    let scratch: UnsafeMutableBufferPointer<UInt8>
    var count = 0

    mutating func write(_ string: String) {
        for byte in string.utf8 where self.count < self.scratch.count {
            self.scratch[self.count] = byte
            self.count += 1
        }
    }

    mutating func _writeASCII(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = min(bytes.count, self.scratch.count - self.count)
        for i in 0..<n { self.scratch[self.count + i] = bytes[i] }
        self.count += n
    }
}
