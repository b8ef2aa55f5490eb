import NIOCore
import SeededRandom
import Testing

@testable import AffonsoAPI

/// ``HTTP1ResponseParser`` on the answers servers and proxies give, arriving in any split.
@Suite("HTTP1ResponseParser")
struct HTTP1ResponseParserTests {
    struct Expected {
        var status: Int
        var body: String
        var isKeepAlive: Bool
        var headers: [String: String] = [:]
    }

    static let valid: [(String, String, Expected)] = [
        (
            "Content-Length and the rate-limit headers",
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-RateLimit-Remaining: 41\r\nContent-Length: 16\r\n"
                + "retry-after: 3\r\n\r\n{\"success\":true}",
            Expected(
                status: 200, body: #"{"success":true}"#, isKeepAlive: true,
                headers: ["X-RateLimit-Remaining": "41", "Retry-After": "3"])
        ),
        (
            "chunked, with an extension and a trailer",
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\n{\"suc\r\nB\r\ncess\":true}\r\n"
                + "0\r\nX-Trailer: 1\r\n\r\n",
            Expected(status: 201, body: #"{"success":true}"#, isKeepAlive: true)
        ),
        (
            "plain chunked",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            Expected(status: 200, body: "{}", isKeepAlive: true)
        ),
        (
            "100 Continue first",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}",
            Expected(status: 202, body: "{}", isKeepAlive: true)
        ),
        (
            "204 without a body",
            "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
            Expected(status: 204, body: "", isKeepAlive: true)
        ),
        (
            "Connection: close",
            "HTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\n{}",
            Expected(status: 503, body: "{}", isKeepAlive: false)
        ),
        (
            "empty list parts are skipped: a trailing comma after chunked, a close between commas",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\nConnection: ,, close ,\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            Expected(status: 200, body: "{}", isKeepAlive: false)
        ),
        (
            "HTTP/1.0 with keep-alive",
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
            Expected(status: 200, body: "{}", isKeepAlive: true)
        ),
        (
            "a status line without a reason",
            "HTTP/1.1 429\r\nContent-Length: 0\r\n\r\n",
            Expected(status: 429, body: "", isKeepAlive: true)
        ),
    ]

    static func check(_ response: HTTP1Response, _ expected: Expected, _ what: String) {
        #expect(response.status == expected.status, "\(what)")
        #expect(String(buffer: response.body) == expected.body, "\(what)")
        #expect(response.isKeepAlive == expected.isKeepAlive, "\(what)")
        for (name, value) in expected.headers {
            #expect(response.headers.first(name: name) == value, "\(what): \(name)")
        }
        #expect(response.headers.first(name: "Server") == nil, "\(what): headers the client does not read are dropped")
    }

    /// Feeds `text` in the given pieces; returns the first response or failure.
    static func feed(_ text: String, cuts: [Int], limit: Int = 1 << 20) -> Result<HTTP1Response, HTTP1TransportError>? {
        var parser = HTTP1ResponseParser(maximumBodyBytes: limit)
        let bytes = Array(text.utf8)
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            if let result = parser.read(ByteBuffer(bytes: bytes[start..<cut])) { return result }
            start = cut
        }
        return parser.closed().map { .success($0) }
    }

    @Test("every valid answer, split at every byte")
    func everySplit() throws {
        for (what, text, expected) in Self.valid {
            for cut in 0...text.utf8.count {
                let result = try #require(Self.feed(text, cuts: [cut]), "\(what) at \(cut)")
                Self.check(try result.get(), expected, "\(what) split at \(cut)")
            }
        }
    }

    @Test("every valid answer, byte by byte and in 500 seeded random splits")
    func randomSplits() throws {
        var random = SplitMix64(seed: 7)
        for (what, text, expected) in Self.valid {
            let count = text.utf8.count
            let single = try #require(Self.feed(text, cuts: Array(0...count)))
            Self.check(try single.get(), expected, "\(what) byte by byte")
            for _ in 0..<500 {
                let cuts = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                    Int.random(in: 0...count, using: &random)
                }
                let result = try #require(Self.feed(text, cuts: cuts.sorted()))
                Self.check(try result.get(), expected, "\(what) cut at \(cuts.sorted())")
            }
        }
    }

    @Test("a body read until the server closes, and two responses in a row on one connection")
    func untilCloseAndSequence() throws {
        var parser = HTTP1ResponseParser(maximumBodyBytes: 1 << 20)
        let head = parser.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n{\"a\""))
        let rest = parser.read(ByteBuffer(string: ":1}"))
        #expect(head == nil && rest == nil)
        let closed = try #require(parser.closed() as HTTP1Response?)
        #expect(String(buffer: closed.body) == #"{"a":1}"#)
        #expect(!closed.isKeepAlive)

        var next = HTTP1ResponseParser(maximumBodyBytes: 1 << 20)
        let first = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
        let second = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1\r\n\r\nB"
        let firstResult = next.read(ByteBuffer(string: first))
        #expect(String(buffer: try #require(firstResult).get().body) == "A")
        let secondResult = next.read(ByteBuffer(string: second))
        let again = try #require(secondResult).get()
        #expect(again.status == 500 && String(buffer: again.body) == "B")
    }

    @Test("bytes after a complete response mean the connection is not used again")
    func trailingBytes() throws {
        let result = try #require(Self.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1", cuts: []))
        #expect(try !result.get().isKeepAlive)
    }

    @Test("a body over the limit is read to its end and kept up to the limit")
    func bodyLimit() throws {
        let body = String(repeating: "x", count: 10_000)
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n\(body)"
        let result = try #require(Self.feed(text, cuts: [100, 5_000], limit: 64)).get()
        #expect(result.body.readableBytes == 64)
        #expect(result.isKeepAlive)
    }

    static let malformed: [(String, String)] = [
        ("not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        ("a status of two digits", "HTTP/1.1 20 OK\r\n\r\n"),
        ("HTTP/2 framing", "HTTP/2 200\r\n\r\n"),
        ("a length that is not a number", "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n"),
        ("a length of 1e30", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000000000000000\r\n\r\n"),
        ("two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
        ("a chunk size that is not hexadecimal", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("a chunk over 1 TiB", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n"),
        ("a chunk without its CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n"),
        ("a switch of protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
        ("a header line without a colon", "HTTP/1.1 200 OK\r\nnonsense\r\nContent-Length: 0\r\n\r\n"),
    ]

    @Test("malformed answers fail, whole or byte by byte")
    func malformedAnswers() throws {
        for (what, text) in Self.malformed {
            for cuts in [[], Array(0...text.utf8.count)] {
                let result = try #require(Self.feed(text, cuts: cuts), "\(what)")
                guard case .failure(let error) = result else {
                    Issue.record("\(what): parsed")
                    continue
                }
                #expect(error.code == .io, "\(what)")
                #expect(error.message.contains("not valid HTTP/1.1"), "\(what)")
            }
        }
    }

    @Test("a head that never ends fails at 64 KiB, not after unbounded memory")
    func endlessHead() throws {
        var parser = HTTP1ResponseParser(maximumBodyBytes: 1 << 20)
        _ = parser.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\n"))
        let line = ByteBuffer(string: "X-Filler: " + String(repeating: "y", count: 1_000) + "\r\n")
        var failure: HTTP1TransportError?
        for _ in 0..<200 {
            if case .failure(let error) = parser.read(line) {
                failure = error
                break
            }
        }
        #expect(try #require(failure).message.contains("longer than 65536 bytes"))
    }
}
