// MARK: - RelayError

/// An error from the Relay module: what was wrong, where, and what to do.
public struct RelayError: Error, Sendable, CustomStringConvertible {
    /// What kind of error this is; callers branch on it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case malformedRetryHeaders = "malformed_retry_headers"
            case invalidConfiguration = "invalid_configuration"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A record's `affonso-relay.*` headers are missing a required header or hold an unreadable value.
        public static let malformedRetryHeaders = Code(.malformedRetryHeaders)
        /// Delivery or retry settings are out of range.
        public static let invalidConfiguration = Code(.invalidConfiguration)

        /// A short, label-safe name for metrics.
        public var description: String { self.base.rawValue }
    }

    /// What kind of error this is.
    public var code: Code
    /// A human message that says what was wrong, where and what to do.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error & Sendable)?
    /// Where in the relay's source the error was raised.
    public var file: String
    /// Where in the relay's source the error was raised.
    public var line: Int

    /// - Parameters:
    ///   - code: What kind of error this is.
    ///   - message: What was wrong, where and what to do.
    ///   - underlying: The error that caused this one, if any.
    public init(
        code: Code,
        message: String,
        underlying: (any Error & Sendable)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    public var description: String {
        if let underlying {
            return "\(self.message) (\(underlying))"
        }
        return self.message
    }
}
