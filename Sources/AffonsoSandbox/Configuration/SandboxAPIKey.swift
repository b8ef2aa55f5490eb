/// An API key the sandbox accepts, with its permissions.
public struct SandboxAPIKey: Sendable, Hashable {
    /// The permission `POST /v1/events` needs.
    public static let writeCommissions = "write:commissions"
    /// The key a default sandbox accepts.
    public static let defaultKey = SandboxAPIKey(key: "sk_test_sandbox", scopes: [writeCommissions])

    /// The bearer token. Never logged.
    public var key: String
    /// Permissions such as `write:commissions`.
    public var scopes: Set<String>

    public init(key: String, scopes: Set<String>) {
        self.key = key
        self.scopes = scopes
    }

    /// Parses `KEY[:scope,…]`: the key is everything before the first `:`. Without `:` the key gets
    /// `write:commissions`; with an empty scope list (`KEY:`) it gets no permission at all.
    /// - Throws: `SandboxError` when the key is empty.
    public init(parsing specification: String) throws(SandboxError) {
        let key: Substring
        var scopes: Set<String> = [Self.writeCommissions]
        if let colon = specification.firstIndex(of: ":") {
            key = specification[..<colon]
            scopes = Set(
                specification[specification.index(after: colon)...].split(separator: ",").map {
                    String($0.trimmingSpaces())
                }.filter { !$0.isEmpty }
            )
        } else {
            key = Substring(specification)
        }
        let trimmed = key.trimmingSpaces()
        guard !trimmed.isEmpty else {
            throw SandboxError(
                .invalidConfiguration,
                "--api-key: the key before ':' is empty; use KEY or KEY:scope,scope (e.g. sk_test_x:write:commissions)"
            )
        }
        self.init(key: String(trimmed), scopes: scopes)
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }
}
