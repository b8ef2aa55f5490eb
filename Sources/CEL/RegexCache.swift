// A shared cache of compiled regular expressions for matches().

import Foundation

/// Compiled regular expressions, shared across evaluations.
final class RegexCache: Sendable {
    static let shared = RegexCache()
    private let storage = LockedDictionary()

    func regex(_ pattern: String) throws -> NSRegularExpression {
        if let cached = storage.get(pattern) { return cached }
        let regex = try NSRegularExpression(pattern: pattern)
        storage.set(pattern, regex)
        return regex
    }
}

private final class LockedDictionary: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: NSRegularExpression] = [:]

    func get(_ key: String) -> NSRegularExpression? {
        lock.lock()
        defer { lock.unlock() }
        return values[key]
    }

    func set(_ key: String, _ value: NSRegularExpression) {
        lock.lock()
        defer { lock.unlock() }
        if values.count > 1000 { values.removeAll() }
        values[key] = value
    }
}
