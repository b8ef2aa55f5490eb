/// Errors of the sandbox library: bad configuration or seed files.
public struct SandboxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidConfiguration = "invalid_configuration"
            case invalidSeedFile = "invalid_seed_file"
            case conflictingReferral = "conflicting_referral"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A flag or configuration value is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The referral seed file cannot be read or has a bad entry.
        public static let invalidSeedFile = Code(.invalidSeedFile)
        /// A referral reuses the id or an identifier of another referral.
        public static let conflictingReferral = Code(.conflictingReferral)

        public var description: String { self.base.rawValue }
    }

    public var code: Code
    /// What was wrong, where, and what to do.
    public var message: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { self.message }
}
