// An HTTP/1.1 response as bytes: status line, the few headers embcache sends, and the body, in ONE
// buffer written with one pipeline write. NIOHTTP1 still decodes requests (a well-kept parser), but
// its response side (HTTPResponseEncoder, the pipeline handler, a head, a body and an end part per
// response) was three writes through three handlers for every hit; a hit's response is a fixed
// head plus a body we already encode. A hit's body is written after `headroom` bytes left free at
// the front of its buffer, and the head goes into that room once the body's length is known, so
// not even the body is copied.
import Foundation
import NIOCore
import NIOHTTP1

/// A complete response: status, content type, body.
struct HTTPResponse {
    var status: HTTPResponseStatus
    var contentType: String
    var body: ByteBuffer
    /// Extra header lines ("Name: value"), e.g. Retry-After.
    var extraHeaders: [String] = []

    static func json(_ text: String, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: ByteBuffer(string: text))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: contentType, body: ByteBuffer(string: text))
    }

    /// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
    static func error(_ status: HTTPResponseStatus, _ message: String, type: String, param: String? = nil, code: String? = nil) -> HTTPResponse {
        let object: [String: Any] = ["error": ["message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(),
                                               "code": code.map { $0 as Any } ?? NSNull()] as [String: Any]]
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return .json(String(decoding: data, as: UTF8.self), status: status)
    }

    /// The response on the wire for a request of `version`; `keepAlive` false adds Connection: close.
    func encoded(version: HTTPVersion, keepAlive: Bool) -> ByteBuffer {
        let head = Self.head(version: version, status: self.status, contentType: self.contentType, length: self.body.readableBytes,
                             keepAlive: keepAlive, extra: self.extraHeaders)
        var out = ByteBufferAllocator().buffer(capacity: head.utf8.count + self.body.readableBytes)
        out.writeString(head)
        var body = self.body
        out.writeBuffer(&body)
        return out
    }

    /// Bytes left free before a hit's body for its head (the longest head below is ~110 bytes).
    static let headroom = 160

    /// A buffer for a body of about `capacity` bytes, with `headroom` free bytes in front of it.
    static func bodyBuffer(capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: Self.headroom + capacity)
        buffer.moveWriterIndex(forwardBy: Self.headroom)
        buffer.moveReaderIndex(forwardBy: Self.headroom)
        return buffer
    }

    /// Puts a 200 JSON head into the headroom of `body` (made by `bodyBuffer`): the buffer is then
    /// the whole response.
    static func frameJSON(_ body: inout ByteBuffer, version: HTTPVersion, keepAlive: Bool) {
        if version == .http1_1 {
            // The common case from fixed bytes: no String built per hit.
            let length = body.readableBytes
            var digits = 1
            var power = 10
            while length >= power {
                digits += 1
                power *= 10
            }
            let end = keepAlive ? Self.endOfHead : Self.endOfHeadClosing
            let start = body.readerIndex - (Self.okJSONHead.count + digits + end.count)
            precondition(start >= 0, "a response head longer than the headroom")
            body.setBytes(Self.okJSONHead, at: start)
            var n = length
            for i in stride(from: start + Self.okJSONHead.count + digits - 1, through: start + Self.okJSONHead.count, by: -1) {
                body.setInteger(UInt8(ascii: "0") + UInt8(n % 10), at: i)
                n /= 10
            }
            body.setBytes(end, at: start + Self.okJSONHead.count + digits)
            body.moveReaderIndex(to: start)
            return
        }
        let head = Self.head(version: version, status: .ok, contentType: "application/json", length: body.readableBytes, keepAlive: keepAlive, extra: [])
        let start = body.readerIndex - head.utf8.count
        precondition(start >= 0, "a response head longer than the headroom")
        body.setString(head, at: start)
        body.moveReaderIndex(to: start)
    }

    private static let okJSONHead = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ".utf8)
    private static let endOfHead = Array("\r\n\r\n".utf8)
    private static let endOfHeadClosing = Array("\r\nConnection: close\r\n\r\n".utf8)

    private static func head(version: HTTPVersion, status: HTTPResponseStatus, contentType: String, length: Int, keepAlive: Bool,
                             extra: [String]) -> String {
        var head = "HTTP/\(version.major).\(version.minor) \(status.code) \(status.reasonPhrase)\r\nContent-Type: \(contentType)\r\nContent-Length: \(length)\r\n"
        for line in extra { head += line + "\r\n" }
        if !keepAlive { head += "Connection: close\r\n" }
        return head + "\r\n"
    }
}

/// How a request is answered: now, now with a finished response's bytes (an all-hit reply, framed
/// in place), or later by async work (the encoder, peers) under the request timeout.
enum HTTPAnswer {
    case now(HTTPResponse)
    case framed(ByteBuffer, keepAlive: Bool)
    case later(@Sendable () async -> HTTPResponse)
}
