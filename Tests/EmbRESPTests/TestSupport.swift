// Helpers for the EmbRESP tests: feed bytes to a RESPParser the way a channel would (in chunks,
// cumulating what is left), and build expected frames briefly.

import NIOCore

import EmbRESP

/// What a stream of bytes decoded to: the frames in order, then the fatal error if one was thrown.
struct Decoded: Equatable, Sendable {
    var frames: [RESPFrame]
    var fatal: RESPProtocolError?
}

/// Feeds `input` to a fresh parser in chunks of `chunkSize` bytes (nil: all at once), calling
/// `next` until it asks for more after each chunk, exactly as `ByteToMessageHandler` does.
func decode(_ input: [UInt8], limits: RESPLimits = .default, chunkSize: Int? = nil) -> Decoded {
    var parser = RESPParser(limits: limits)
    var cumulation = ByteBuffer()
    var frames: [RESPFrame] = []
    let size = max(1, chunkSize ?? input.count)
    var start = 0
    repeat {
        let end = min(input.count, start + size)
        cumulation.writeBytes(input[start..<end])
        start = end
        do {
            // Bounded: each frame consumes at least one byte.
            for _ in 0...input.count {
                guard let frame = try parser.next(&cumulation) else { break }
                frames.append(frame)
            }
        } catch {
            return Decoded(frames: frames, fatal: error)
        }
    } while start < input.count
    return Decoded(frames: frames, fatal: nil)
}

func decode(_ input: String, limits: RESPLimits = .default, chunkSize: Int? = nil) -> Decoded {
    decode(Array(input.utf8), limits: limits, chunkSize: chunkSize)
}

/// A multibulk command frame from strings.
func command(_ arguments: String...) -> RESPFrame {
    .command(RESPCommand(arguments, framing: .multibulk))
}

/// An inline command frame from strings.
func inline(_ arguments: String...) -> RESPFrame {
    .command(RESPCommand(arguments, framing: .inline))
}

/// The multibulk wire form of `arguments`.
func wire(_ arguments: String...) -> String {
    var text = "*\(arguments.count)\r\n"
    for argument in arguments {
        text += "$\(argument.utf8.count)\r\n\(argument)\r\n"
    }
    return text
}

/// The bytes written by `body` into a fresh buffer, as a String (for golden comparisons).
func written(_ body: (inout ByteBuffer) -> Void) -> String {
    var buffer = ByteBuffer()
    body(&buffer)
    return String(buffer: buffer)
}

/// Small limits so that the bounds can be reached with short inputs.
let smallLimits = RESPLimits(
    maxBulkLength: 8,
    hardMaxBulkLength: 64,
    maxArguments: 4,
    hardMaxArguments: 16,
    maxInlineLength: 32
)
