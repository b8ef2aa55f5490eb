import Foundation
import Logging
import Synchronization

// MARK: - LogOutput

/// Where ``JSONLogHandler`` and ``TextLogHandler`` write their lines, and what they keep out of them.
///
/// Every line passes through ``SecretScrubber`` first (with ``knownSecrets``), so an API key that slipped into a
/// message or a metadata value never reaches the log. Lines are written whole, one at a time, so lines from
/// different threads never interleave.
public struct LogOutput: Sendable {
    /// Exact secrets removed from every line (the configured API key); `sk_live_…`, `sk_test_…` and `Bearer …`
    /// tokens are removed without being listed.
    public var knownSecrets: [String]
    /// The clock of the `ts` field.
    public var now: @Sendable () -> Date
    private let write: @Sendable (String) -> Void

    /// - Parameters:
    ///   - knownSecrets: exact secrets to remove from every line.
    ///   - now: the clock of the `ts` field.
    ///   - write: receives each finished line, ending with `\n`.
    public init(
        knownSecrets: [String] = [],
        now: @escaping @Sendable () -> Date = { Date() },
        write: @escaping @Sendable (String) -> Void
    ) {
        self.knownSecrets = knownSecrets.filter { !$0.isEmpty }
        self.now = now
        self.write = write
    }

    /// Standard error, the relay's log stream.
    /// - Parameter knownSecrets: exact secrets to remove from every line.
    public static func standardError(knownSecrets: [String] = []) -> LogOutput {
        LogOutput(knownSecrets: knownSecrets) { line in
            standardErrorLock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
        }
    }

    private static let standardErrorLock = Mutex(())

    /// Writes one line (`line` has no trailing newline) after removing secrets.
    func emit(_ line: String) {
        write(SecretScrubber.scrub(line, knownSecrets: knownSecrets) + "\n")
    }

    /// The time stamp of a line: RFC 3339 in UTC with milliseconds, e.g. `2026-05-04T09:12:03.250Z`.
    func timestamp() -> String {
        now().formatted(Self.timestampStyle)
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// The handler's metadata, then the provider's, then the event's (later ones win), sorted by key.
    static func merged(
        _ handler: Logger.Metadata,
        _ provider: Logger.MetadataProvider?,
        _ event: Logger.Metadata?
    ) -> [(key: String, value: Logger.MetadataValue)] {
        var merged = handler
        if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
        if let event { merged.merge(event) { _, new in new } }
        return merged.sorted { $0.key < $1.key }
    }
}
