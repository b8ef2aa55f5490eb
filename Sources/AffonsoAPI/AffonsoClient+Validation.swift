import Foundation

// MARK: - Configuration checks

extension AffonsoClient {
    /// `<base_url>/v1/events`, after checking the scheme, host and the insecure-HTTP rule.
    static func validatedEndpoint(_ configuration: AffonsoClientConfiguration) throws(AffonsoError) -> String {
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let shown = AffonsoClientConfiguration.shownURL(configuration.baseURL)
        if let problem = AffonsoClientConfiguration.baseURLShapeProblem(base) {
            throw AffonsoError(code: .invalidConfiguration, message: problem)
        }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else {
            throw AffonsoError(
                code: .invalidConfiguration,
                message: "affonso.base_url '\(shown)' is not an absolute URL; use e.g. https://api.affonso.io"
            )
        }
        switch scheme {
        case "https":
            break
        case "http":
            guard isLoopback(host: host) || configuration.allowInsecureHTTP else {
                throw AffonsoError(
                    code: .insecureURL,
                    message: "affonso.base_url '\(shown)' uses http:// to '\(host)', which is not "
                        + "loopback: the API key would travel unencrypted. Use https://, or set "
                        + "affonso.allow_insecure_http: true if the network path is trusted"
                )
            }
        default:
            throw AffonsoError(
                code: .invalidConfiguration,
                message: "affonso.base_url '\(shown)' has scheme '\(scheme)'; use https:// "
                    + "(or http:// for a loopback sandbox)"
            )
        }
        return base + "/v1/events"
    }

    /// Whether `host` is `localhost`, in 127.0.0.0/8, or `::1`.
    static func isLoopback(host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host == "0:0:0:0:0:0:0:1" {
            return true
        }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }

    static func validateLimits(_ configuration: AffonsoClientConfiguration) throws(AffonsoError) {
        if let limit = configuration.effectiveRateLimit, limit.perMinute < 1 || limit.burst < 1 {
            throw AffonsoError(
                code: .invalidConfiguration,
                message: "affonso.rate_limit \(limit) is invalid: per_minute and burst must be at least 1"
            )
        }
        if configuration.maximumConnections < 1 {
            throw AffonsoError(
                code: .invalidConfiguration,
                message: "the connection limit (delivery.max_in_flight) is \(configuration.maximumConnections); "
                    + "it must be at least 1"
            )
        }
        if configuration.timeout <= .zero || configuration.connectTimeout <= .zero {
            throw AffonsoError(
                code: .invalidConfiguration,
                message: "affonso.timeout (\(configuration.timeout)) and the connect timeout "
                    + "(\(configuration.connectTimeout)) must be positive"
            )
        }
        if configuration.maximumRetryAfter <= .zero || configuration.maximumRetryAfter > .seconds(86_400) {
            throw AffonsoError(
                code: .invalidConfiguration,
                message: "affonso.max_retry_after (\(configuration.maximumRetryAfter)) must be more than 0 and at "
                    + "most 24h; the plan's window is a minute, so 60s is a good value"
            )
        }
    }
}
