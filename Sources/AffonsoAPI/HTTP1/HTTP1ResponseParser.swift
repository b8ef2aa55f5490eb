import NIOCore
import NIOHTTP1

// MARK: - HTTP1ResponseParser

/// Reads the HTTP/1.x responses of one connection from its bytes as they arrive, in any split: what
/// ``HTTP1ConnectionHandler`` decodes with. Sans I/O.
///
/// - The head: the status line, `Content-Length`, `Transfer-Encoding` and `Connection`, and of the other headers only
///   those ``AffonsoClient`` reads (`Retry-After`, `X-RateLimit-*`); at most ``maximumHeadBytes``.
/// - The body: by `Content-Length`, chunked, or until the server closes the connection; kept up to
///   `maximumBodyBytes` (the rest is read and dropped). 1xx heads are skipped; 204 and 304 have no body.
/// - Anything malformed (a bad status line or length, a head or chunk line over its limit, a 101) fails the
///   response; the connection is then closed.
struct HTTP1ResponseParser {
    static let maximumHeadBytes = 64 << 10
    static let maximumChunkLineBytes = 1 << 10
    /// Larger lengths are not a response of this API.
    static let maximumBodyLength = 1 << 40

    private enum Phase {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
    }

    private enum Framing {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    private let maximumBodyBytes: Int
    /// Bytes received and not yet read.
    private var buffer = ByteBuffer()
    /// How many bytes at the start of `buffer` were already searched for the end of the current head or line.
    private var scanned = 0
    private var phase = Phase.head
    private var head: (status: Int, headers: HTTPHeaders, isKeepAlive: Bool)?
    private var body = ByteBuffer()
    private var trailerBytes = 0

    init(maximumBodyBytes: Int) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// The status of the response being read, once its head arrived.
    var status: Int? { head?.status }

    /// Takes the next bytes of the connection.
    /// - Returns: the response once it is complete (then the parser is ready for the next one), a failure, or nil
    ///   while more bytes are needed.
    mutating func read(_ bytes: ByteBuffer) -> Result<HTTP1Response, HTTP1TransportError>? {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            buffer.writeImmutableBuffer(bytes)
        }
        defer {
            // Lets go of the receive buffer (NIO reuses it) once everything in it was read.
            if buffer.readableBytes == 0 { buffer = ByteBuffer() }
        }
        do {
            return try advance().map { .success($0) }
        } catch {
            return .failure(error)
        }
    }

    /// The connection closed: the response read until the close, if that is how it ends; nil otherwise.
    mutating func closed() -> HTTP1Response? {
        guard case .untilClose = phase, let head else { return nil }
        return finish(head, isKeepAlive: false)
    }

    // MARK: - Phases

    private mutating func advance() throws(HTTP1TransportError) -> HTTP1Response? {
        while true {
            switch phase {
            case .head:
                guard let end = try find(Self.headEnd, limit: Self.maximumHeadBytes, what: "response head") else {
                    return nil
                }
                let parsed = try parseHead(length: end)
                buffer.moveReaderIndex(forwardBy: end + Self.headEnd.count)
                scanned = 0
                guard let parsed else { continue }  // a 1xx: the real head follows
                head = (parsed.status, parsed.headers, parsed.isKeepAlive)
                switch parsed.framing {
                case .none, .length(0):
                    return finish(head!, isKeepAlive: parsed.isKeepAlive)
                case .length(let length):
                    phase = .fixed(remaining: length)
                case .chunked:
                    phase = .chunkSize
                case .untilClose:
                    head!.isKeepAlive = false
                    phase = .untilClose
                }
            case .fixed(let remaining):
                let left = takeBody(remaining)
                guard left == 0 else {
                    phase = .fixed(remaining: left)
                    return nil
                }
                return finish(head!, isKeepAlive: head!.isKeepAlive)
            case .chunkSize:
                guard let end = try find(Self.lineEnd, limit: Self.maximumChunkLineBytes, what: "chunk size line")
                else {
                    return nil
                }
                let size = try chunkSize(length: end)
                buffer.moveReaderIndex(forwardBy: end + Self.lineEnd.count)
                scanned = 0
                phase = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let left = takeBody(remaining)
                guard left == 0 else {
                    phase = .chunkData(remaining: left)
                    return nil
                }
                phase = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readBytes(length: 2) == Self.lineEnd else {
                    throw Self.malformed("a chunk does not end with CRLF")
                }
                phase = .chunkSize
            case .trailers:
                guard let end = try find(Self.lineEnd, limit: Self.maximumHeadBytes - trailerBytes, what: "trailer")
                else {
                    return nil
                }
                buffer.moveReaderIndex(forwardBy: end + Self.lineEnd.count)
                scanned = 0
                trailerBytes += end + Self.lineEnd.count
                guard end == 0 else { continue }
                return finish(head!, isKeepAlive: head!.isKeepAlive)
            case .untilClose:
                _ = takeBody(Int.max)
                return nil
            }
        }
    }

    /// Reads up to `remaining` body bytes from the buffer, keeping them while there is room.
    /// - Returns: how many are still to come.
    private mutating func takeBody(_ remaining: Int) -> Int {
        let count = min(remaining, buffer.readableBytes)
        let room = maximumBodyBytes - body.readableBytes
        if room > 0, count > 0, let slice = buffer.readSlice(length: min(room, count)) {
            if body.capacity == 0 {
                // Sized once for what is announced (instead of a copy of the shared empty buffer, then growth).
                body = ByteBufferAllocator().buffer(capacity: min(room, remaining == Int.max ? count : remaining))
            }
            // A copy, so that the receive buffer is not held by the response.
            body.writeImmutableBuffer(slice)
            buffer.moveReaderIndex(forwardBy: count - slice.readableBytes)
        } else {
            buffer.moveReaderIndex(forwardBy: count)
        }
        return remaining == Int.max ? remaining : remaining - count
    }

    private mutating func finish(
        _ head: (status: Int, headers: HTTPHeaders, isKeepAlive: Bool), isKeepAlive: Bool
    ) -> HTTP1Response {
        // Bytes after a complete response answer no request of ours: the connection is not used again.
        let response = HTTP1Response(
            status: head.status, headers: head.headers, body: body,
            isKeepAlive: isKeepAlive && buffer.readableBytes == 0)
        self.head = nil
        body = ByteBuffer()
        phase = .head
        scanned = 0
        trailerBytes = 0
        return response
    }

    // MARK: - Scanning

    private static let headEnd: [UInt8] = Array("\r\n\r\n".utf8)
    private static let lineEnd: [UInt8] = Array("\r\n".utf8)

    /// The offset of `marker` in the buffer's readable bytes, searching only what was not searched before.
    /// - Throws: when `limit` bytes arrived without it.
    private mutating func find(_ marker: [UInt8], limit: Int, what: String) throws(HTTP1TransportError) -> Int? {
        let from = max(0, scanned - (marker.count - 1))
        // Over the raw bytes: a ByteBufferView retains and releases the storage at every slice.
        let found = buffer.withUnsafeReadableBytes { readable -> Int? in
            let (first, second) = (marker[0], marker[1])
            let third = marker.count == 2 ? nil : marker[2]
            let fourth = marker.count == 2 ? nil : marker[3]
            var index = from
            let last = readable.count - marker.count
            while index <= last {
                if readable[index] == first && readable[index + 1] == second
                    && (third == nil || readable[index + 2] == third && readable[index + 3] == fourth)
                {
                    return index
                }
                index += 1
            }
            return nil
        }
        if let found { return found }
        scanned = buffer.readableBytes
        if buffer.readableBytes > limit {
            throw Self.malformed("the \(what) is longer than \(limit) bytes")
        }
        return nil
    }

    // MARK: - Head

    private struct Head {
        var status: Int
        var headers: HTTPHeaders
        var isKeepAlive: Bool
        var framing: Framing
    }

    /// The head of `length` bytes at the buffer's reader index; nil for a 1xx.
    private func parseHead(length: Int) throws(HTTP1TransportError) -> Head? {
        // Over the raw bytes: a ByteBufferView retains and releases the storage at every slice.
        let parsed = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(HTTP1TransportError) in try Self.parseHead(bytes, length: length) }
        }
        return try parsed.get()
    }

    private static func parseHead(_ bytes: UnsafeRawBufferPointer, length: Int) throws(HTTP1TransportError) -> Head? {
        let end = bytes.startIndex + length
        // "HTTP/1.x SSS reason"
        let statusEnd = bytes[bytes.startIndex..<end].firstIndex(of: 0x0A) ?? end
        let statusLine = Self.withoutCR(bytes[bytes.startIndex..<statusEnd])
        let start = statusLine.startIndex
        guard statusLine.count >= 12, statusLine.starts(with: Self.versionPrefix),
            let minor = Self.digit(statusLine[start + 7]), statusLine[start + 8] == 0x20,
            let s1 = Self.digit(statusLine[start + 9]), let s2 = Self.digit(statusLine[start + 10]),
            let s3 = Self.digit(statusLine[start + 11]), statusLine.count == 12 || statusLine[start + 12] == 0x20
        else {
            throw Self.malformed("the status line is not HTTP/1.x")
        }
        let status = s1 * 100 + s2 * 10 + s3
        guard status >= 100 else { throw Self.malformed("status \(status) is not an HTTP status") }
        if status == 101 { throw Self.malformed("the server switched protocols (101)") }

        var headers = HTTPHeaders()
        var isKeepAlive = minor >= 1
        var length: Int?
        var chunked = false
        var otherCoding = false
        var position = statusEnd
        while position < end {
            let lineEnd = bytes[(position + 1)..<end].firstIndex(of: 0x0A) ?? end
            let line = Self.withoutCR(bytes[(position + 1)..<lineEnd])
            position = lineEnd
            guard let colon = line.firstIndex(of: 0x3A) else {
                if line.isEmpty { continue }
                throw Self.malformed("a header line has no ':'")
            }
            let name = line[line.startIndex..<colon]
            let value = Self.trimmed(line[(colon + 1)...])
            if Self.equalsIgnoringCase(name, "content-length") {
                guard let parsed = Self.decimal(value) else { throw Self.malformed("Content-Length is not a length") }
                if let length, length != parsed { throw Self.malformed("two different Content-Length headers") }
                length = parsed
            } else if Self.equalsIgnoringCase(name, "transfer-encoding") {
                var last: RawBytes?
                Self.forEachToken(value) { last = $0 }
                if let last, Self.equalsIgnoringCase(last, "chunked") {
                    chunked = true
                    otherCoding = false
                } else {
                    otherCoding = true
                }
            } else if Self.equalsIgnoringCase(name, "connection") {
                Self.forEachToken(value) { token in
                    if Self.equalsIgnoringCase(token, "close") { isKeepAlive = false }
                    if Self.equalsIgnoringCase(token, "keep-alive") && minor == 0 { isKeepAlive = true }
                }
            } else if Self.equalsIgnoringCase(name, "retry-after") || Self.hasPrefixIgnoringCase(name, "x-ratelimit-") {
                headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
            }
        }
        if status < 200 { return nil }
        let framing: Framing =
            if status == 204 || status == 304 {
                .none
            } else if chunked && !otherCoding {
                .chunked
            } else if otherCoding {
                .untilClose
            } else if let length {
                .length(length)
            } else {
                .untilClose
            }
        return Head(status: status, headers: headers, isKeepAlive: isKeepAlive, framing: framing)
    }

    private func chunkSize(length: Int) throws(HTTP1TransportError) -> Int {
        guard let line = buffer.getSlice(at: buffer.readerIndex, length: length)?.readableBytesView else {
            throw Self.malformed("the chunk size line cannot be read")
        }
        let digits = line.prefix { $0 != 0x3B && $0 != 0x20 && $0 != 0x09 }  // before extensions
        var size = 0
        guard !digits.isEmpty else { throw Self.malformed("a chunk size is empty") }
        for byte in digits {
            guard let value = Self.hexDigit(byte) else { throw Self.malformed("a chunk size is not hexadecimal") }
            size = size * 16 + value
            guard size <= Self.maximumBodyLength else { throw Self.malformed("a chunk is larger than 1 TiB") }
        }
        return size
    }

    // MARK: - Bytes

    private static let versionPrefix: [UInt8] = Array("HTTP/1.".utf8)

    private typealias RawBytes = Slice<UnsafeRawBufferPointer>

    private static func malformed(_ what: String) -> HTTP1TransportError {
        HTTP1TransportError(code: .io, message: "the response is not valid HTTP/1.1: \(what)")
    }

    private static func withoutCR(_ line: RawBytes) -> RawBytes {
        line.last == 0x0D ? line.dropLast() : line
    }

    /// The comma-separated parts of a header value as `split(separator: ",")` gives them (empty ones left out),
    /// trimmed, without building arrays (every nginx answer has `Connection: keep-alive`).
    private static func forEachToken(_ value: RawBytes, _ body: (RawBytes) -> Void) {
        var start = value.startIndex
        while start < value.endIndex {
            let comma = value[start...].firstIndex(of: 0x2C) ?? value.endIndex
            if comma > start { body(trimmed(value[start..<comma])) }
            start = comma + 1
        }
    }

    private static func trimmed(_ bytes: RawBytes) -> RawBytes {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return bytes[bytes.endIndex...] }
        return bytes[first...last]
    }

    private static func equalsIgnoringCase(_ bytes: RawBytes, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return hasPrefixIgnoringCase(bytes, lowercase)
    }

    private static func hasPrefixIgnoringCase(_ bytes: RawBytes, _ lowercase: StaticString) -> Bool {
        guard bytes.count >= lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { byte, wanted in
                (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == wanted
            }
        }
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }

    private static func decimal(_ bytes: RawBytes) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard let digit = digit(byte) else { return nil }
            value = value * 10 + digit
            guard value <= maximumBodyLength else { return nil }
        }
        return value
    }
}
