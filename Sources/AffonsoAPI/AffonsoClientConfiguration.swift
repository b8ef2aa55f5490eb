import Foundation

// MARK: - AffonsoClientConfiguration

/// How ``AffonsoClient`` reaches the Affonso API (the `affonso:` section of `relay.yaml`).
public struct AffonsoClientConfiguration: Sendable, Hashable {
    /// The API's base URL; requests go to `<baseURL>/v1/events`. `http://` is refused unless the host is
    /// loopback (`127.0.0.0/8`, `::1`, `localhost`) or ``allowInsecureHTTP`` is set.
    ///
    /// Default: `https://api.affonso.io`
    public var baseURL: String = "https://api.affonso.io"

    /// Where the API key comes from.
    public var credentials: Credentials

    /// The plan, which sets the rate limit unless ``rateLimit`` overrides it.
    ///
    /// Default: `.launch` (the lowest limit, so a missing setting never provokes 429s)
    public var plan: AffonsoPlan = .launch

    /// An explicit rate limit that overrides the plan's (`rate_limit: {per_minute, burst}`).
    ///
    /// Default: `nil` (use ``plan``)
    public var rateLimit: RateLimit? = nil

    /// Whose requests the limit covers: this process alone, or every member of the consumer group together.
    ///
    /// Default: `.pod` (the relay's `relay.yaml` defaults to `fleet`)
    public var rateLimitScope: RateLimitScope = .pod

    /// Total time for one request, from sending to the last byte of the response.
    ///
    /// Default: 10 seconds
    public var timeout: Duration = .seconds(10)

    /// Time allowed to establish a connection (TCP and TLS).
    ///
    /// Default: 5 seconds
    public var connectTimeout: Duration = .seconds(5)

    /// The longest the client waits because the API said so (`affonso.max_retry_after`): a 429's `Retry-After`
    /// or `error.retryAfter`, and a `X-RateLimit-Reset` with nothing remaining, are capped at it (an odd value is
    /// logged once). The plan's window is a minute, so a longer wait is never meant.
    ///
    /// Default: 60 s
    public var maximumRetryAfter: Duration = .seconds(60)

    /// Connections kept to the API; set it to the relay's `delivery.max_in_flight`.
    ///
    /// Default: 256
    public var maximumConnections: Int = 256

    /// Allow `http://` to a host that is not loopback (never do this for the real API).
    ///
    /// Default: `false`
    public var allowInsecureHTTP: Bool = false

    /// The `User-Agent` header.
    ///
    /// Default: `affonso-relay/<version>`
    public var userAgent: String = "affonso-relay/\(AffonsoClient.version)"

    /// Largest response body read; a longer body is read up to this size and parsed as far as possible.
    ///
    /// Default: 1 MiB
    public var maximumResponseBytes: Int = 1 << 20

    /// Creates a configuration; every other setting has its default.
    public init(credentials: Credentials) {
        self.credentials = credentials
    }

    /// The limit the client paces to: ``rateLimit`` if set, else the plan's (`nil` = unlimited).
    public var effectiveRateLimit: RateLimit? { rateLimit ?? plan.rateLimit }
}

// MARK: - Credentials

extension AffonsoClientConfiguration {
    /// The API key, inline or in a file. Its descriptions never show the key.
    public struct Credentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        enum Source: Sendable, Hashable {
            case key(String)
            case file(String)
        }

        let source: Source

        /// An inline key (`api_key:`, typically `${AFFONSO_API_KEY}` expanded by the config layer).
        public static func apiKey(_ key: String) -> Credentials { Credentials(source: .key(key)) }

        /// A file holding the key (`api_key_file:`, e.g. a mounted Kubernetes secret). Surrounding whitespace
        /// is ignored. The file is read when the client starts and again after a 401 or 403, so a rotated key
        /// is picked up without a restart.
        public static func apiKeyFile(_ path: String) -> Credentials { Credentials(source: .file(path)) }

        /// The key file's path, if the key comes from a file.
        public var filePath: String? {
            if case .file(let path) = source { return path }
            return nil
        }

        public var description: String {
            switch source {
            case .key: "api_key (redacted)"
            case .file(let path): "api_key_file \(path)"
            }
        }

        public var debugDescription: String { description }

        public var customMirror: Mirror { Mirror(self, children: ["source": description]) }
    }
}

// MARK: - Base URL

extension AffonsoClientConfiguration {
    /// `url` as it may be shown in an error or log line: a user and password in it are replaced by `<redacted>`.
    public static func shownURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let authorityEnd =
            url[schemeEnd.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        guard let at = url[schemeEnd.upperBound..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "<redacted>" + String(url[at...])
    }

    /// What is wrong with the shape of a base URL, whatever its scheme: no host, a user or password in it (the key
    /// belongs in `api_key` or `api_key_file`; a password there would be shown wherever the URL is), or a query or
    /// fragment (`/v1/events` is appended to it). nil when none of these.
    public static func baseURLShapeProblem(_ url: String) -> String? {
        let shown = shownURL(url)
        guard let components = URLComponents(string: url) else {
            return "affonso.base_url '\(shown)' is not a URL; use e.g. https://api.affonso.io"
        }
        if components.user != nil || components.password != nil {
            return "affonso.base_url '\(shown)' carries a user or password; remove it (the API key goes in api_key "
                + "or api_key_file, and rotate a password that was written here)"
        }
        if (components.host ?? "").isEmpty {
            return "affonso.base_url '\(shown)' has no host; use e.g. https://api.affonso.io"
        }
        if components.query != nil || components.fragment != nil {
            return "affonso.base_url '\(shown)' has a query or fragment; requests go to <base_url>/v1/events, so "
                + "give only scheme, host, port and path"
        }
        return nil
    }
}
