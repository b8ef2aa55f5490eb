import Foundation
import Testing

@testable import AffonsoAPI

@Suite("AffonsoClient configuration")
struct ConfigurationTests {
    static let key = "sk_live_configuration_secret"

    static func configuration(_ baseURL: String) -> AffonsoClientConfiguration {
        var configuration = AffonsoClientConfiguration(credentials: .apiKey(key))
        configuration.baseURL = baseURL
        return configuration
    }

    @Test(
        "http:// to a host that is not loopback is refused with a fix",
        arguments: ["http://api.affonso.io", "http://10.0.0.5:8080", "http://128.0.0.1", "http://localhost.evil.com"]
    )
    func insecureRefused(url: String) {
        do {
            let client = try AffonsoClient(configuration: Self.configuration(url))
            Issue.record("accepted \(url)")
            _ = client
        } catch {
            #expect(error.code == .insecureURL)
            #expect(error.errorClass == .configuration)
            #expect(error.message.contains(url))
            #expect(error.message.contains("https://"))
            #expect(error.message.contains("allow_insecure_http"))
        }
    }

    @Test(
        "http:// is accepted for loopback hosts",
        arguments: ["http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:9000/", "http://[::1]:8080"]
    )
    func loopbackAccepted(url: String) async throws {
        let client = try AffonsoClient(configuration: Self.configuration(url))
        #expect(client.endpoint.hasSuffix("/v1/events"))
        #expect(!client.endpoint.contains("//v1"))
        try await client.shutdown()
    }

    @Test("allow_insecure_http permits http:// to any host")
    func insecureAllowed() async throws {
        var configuration = Self.configuration("http://sandbox.internal:8080")
        configuration.allowInsecureHTTP = true
        let client = try AffonsoClient(configuration: configuration)
        #expect(client.endpoint == "http://sandbox.internal:8080/v1/events")
        try await client.shutdown()
    }

    @Test("other schemes and relative URLs are refused", arguments: ["ftp://api.affonso.io", "api.affonso.io"])
    func badURL(url: String) {
        #expect(throws: AffonsoError.self) { try AffonsoClient(configuration: Self.configuration(url)) }
    }

    @Test(
        "a base URL without a host, with a user or password, or with a query or fragment is refused; a password in it is never shown",
        arguments: [
            ("https://", "has no host"),
            ("https://ops:hunter2-pw@api.affonso.io", "carries a user or password"),
            ("https://ops@api.affonso.io:8443/proxy", "carries a user or password"),
            ("https://api.affonso.io/?region=eu", "has a query or fragment"),
            ("https://api.affonso.io#v1", "has a query or fragment"),
        ]
    )
    func badShape(url: String, problem: String) {
        do {
            let client = try AffonsoClient(configuration: Self.configuration(url))
            Issue.record("accepted \(url)")
            _ = client
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(problem), "\(error.message)")
            #expect(!error.message.contains("hunter2"))
        }
    }

    @Test("shownURL redacts the user and password, and nothing else")
    func shownURL() {
        #expect(
            AffonsoClientConfiguration.shownURL("https://ops:hunter2@api.affonso.io:8443/p?q=1")
                == "https://<redacted>@api.affonso.io:8443/p?q=1")
        #expect(AffonsoClientConfiguration.shownURL("https://a:b@c@host/x@y") == "https://<redacted>@host/x@y")
        #expect(AffonsoClientConfiguration.shownURL("https://api.affonso.io/x@y") == "https://api.affonso.io/x@y")
        #expect(AffonsoClientConfiguration.shownURL("not a url @ all") == "not a url @ all")
        #expect(AffonsoClientConfiguration.shownURL("") == "")
    }

    @Test("plans map to the documented limits; rate_limit overrides")
    func plans() {
        #expect(AffonsoPlan(name: "launch")?.rateLimit == RateLimit(perMinute: 300, burst: 10))
        #expect(AffonsoPlan(name: "growth")?.rateLimit == RateLimit(perMinute: 600, burst: 20))
        #expect(AffonsoPlan(name: "elite")?.rateLimit == RateLimit(perMinute: 1200, burst: 40))
        #expect(AffonsoPlan(name: "enterprise")?.rateLimit == RateLimit(perMinute: 3000, burst: 100))
        #expect(AffonsoPlan(name: "unlimited")?.rateLimit == nil)
        #expect(AffonsoPlan(name: "gold") == nil)
        var configuration = Self.configuration("https://api.affonso.io")
        configuration.plan = .growth
        configuration.rateLimit = RateLimit(perMinute: 100, burst: 5)
        #expect(configuration.effectiveRateLimit == RateLimit(perMinute: 100, burst: 5))
    }

    @Test("a zero rate limit is refused")
    func zeroRateLimit() {
        var configuration = Self.configuration("https://api.affonso.io")
        configuration.rateLimit = RateLimit(perMinute: 0, burst: 1)
        #expect(throws: AffonsoError.self) { try AffonsoClient(configuration: configuration) }
    }

    @Test("the API key never shows in descriptions, dumps or reflection of the configuration")
    func keyNeverDescribed() {
        let configuration = Self.configuration("https://api.affonso.io")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), dumped, "\(configuration.credentials)"] {
            #expect(!text.contains(Self.key), "leaked in: \(text)")
        }
    }

    @Test("a missing or empty key file is a credentials error naming the file")
    func keyFileErrors() throws {
        let missing = "/nonexistent/affonso/api-key"
        do {
            _ = try AffonsoClient(configuration: AffonsoClientConfiguration(credentials: .apiKeyFile(missing)))
            Issue.record("accepted a missing key file")
        } catch {
            #expect(error.errorClass == .credentials)
            #expect(error.message.contains(missing))
        }

        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("affonso-empty-\(UUID())")
        try Data("\n".utf8).write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        do {
            _ = try AffonsoClient(configuration: AffonsoClientConfiguration(credentials: .apiKeyFile(empty.path)))
            Issue.record("accepted an empty key file")
        } catch {
            #expect(error.code == .apiKeyUnavailable)
            #expect(error.message.contains("empty"))
        }
    }
}
