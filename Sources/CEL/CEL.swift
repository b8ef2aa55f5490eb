// The public face of the CEL module. This file fixes the API that Rules builds
// on; the implementation lives beside it (Lexer, Parser, Compiler, functions, …).

import Synchronization

// MARK: - Values

/// A dynamic CEL value (docs/rules.md, "CEL in short"). Protobuf messages are out of scope.
public enum CELValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([CELValue])
    case map(CELMap)
    case timestamp(CELTimestamp)
    case duration(CELDuration)
    case type(CELType)
    /// `optional.none()` is `.optional(nil)`.
    indirect case optional(CELValue?)
}

/// A CEL map: keys are `int`, `uint`, `bool` or `string`; insertion order is kept
/// so that output (typed JSON, Affonso metadata) is deterministic.
/// Numeric keys that are equal as numbers (`1`, `1u`, `1.0`) find the same entry.
public struct CELMap: Sendable, Hashable {
    public private(set) var entries: [(key: CELValue, value: CELValue)]
    /// Built for larger maps only; small maps are scanned.
    private var index: [MapKey: Int]?

    public init() { entries = [] }
    public init(_ entries: [(key: CELValue, value: CELValue)]) {
        self.entries = entries
        index = Self.makeIndex(entries)
    }
    public init(_ strings: [(String, CELValue)]) {
        entries = strings.map { (.string($0.0), $0.1) }
        index = Self.makeIndex(entries)
    }

    /// Entries whose keys are distinct, with the positions the builder kept while it removed repeats (the JSON
    /// parser of large objects): the lookup index is taken over instead of hashing every key a second time.
    package init(distinctEntries entries: [(key: CELValue, value: CELValue)], index: [MapKey: Int]) {
        self.entries = entries
        self.index = entries.count > 16 ? index : nil
    }

    public var count: Int { entries.count }
    public subscript(key: CELValue) -> CELValue? {
        guard let normalized = MapKey(key) else { return nil }
        if let index { return index[normalized].map { entries[$0].value } }
        for entry in entries where MapKey(entry.key) == normalized { return entry.value }
        return nil
    }
    public subscript(key: String) -> CELValue? {
        if let index { return index[.string(key)].map { entries[$0].value } }
        for entry in entries {
            if case .string(let candidate) = entry.key, candidate == key { return entry.value }
        }
        return nil
    }

    public static func == (lhs: CELMap, rhs: CELMap) -> Bool {
        lhs.count == rhs.count && lhs.entries.allSatisfy { rhs[$0.key] == $0.value }
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(count) }

    /// Looks up a string key, trying the position where `cache` last found it first.
    @inline(__always)
    func value(forField name: String, cache: FieldCache) -> CELValue? {
        let hint = cache.hint.load(ordering: .relaxed)
        if hint < entries.count, case .string(let key) = entries[hint].key, key == name { return entries[hint].value }
        if let index {
            guard let position = index[.string(name)] else { return nil }
            cache.hint.store(position, ordering: .relaxed)
            return entries[position].value
        }
        for position in entries.indices {
            if case .string(let key) = entries[position].key, key == name {
                cache.hint.store(position, ordering: .relaxed)
                return entries[position].value
            }
        }
        return nil
    }

    private static func makeIndex(_ entries: [(key: CELValue, value: CELValue)]) -> [MapKey: Int]? {
        guard entries.count > 16 else { return nil }
        var index: [MapKey: Int] = [:]
        index.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            if let key = MapKey(entry.key), index[key] == nil { index[key] = position }
        }
        return index
    }
}

/// A point in time with nanosecond precision, from 0001-01-01 to 9999-12-31 UTC.
public struct CELTimestamp: Sendable, Hashable, Comparable {
    /// Seconds since the Unix epoch.
    public var seconds: Int64
    /// 0 ..< 1_000_000_000.
    public var nanos: Int32
    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.seconds, lhs.nanos) < (rhs.seconds, rhs.nanos) }
}

/// A signed span of time with nanosecond precision (about ±10,000 years).
public struct CELDuration: Sendable, Hashable, Comparable {
    public var seconds: Int64
    /// Same sign as `seconds` (or zero), magnitude below 1_000_000_000.
    public var nanos: Int32
    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.seconds, lhs.nanos) < (rhs.seconds, rhs.nanos) }
}

/// A CEL type value, as returned by `type(x)`; `name` is CEL's spelling (`int`, `list`, `google.protobuf.Timestamp`, …).
public struct CELType: Sendable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

// MARK: - Compile and evaluate

/// Where in an expression's source something is: 1-based line and column (in characters), 0-based UTF-8 offset.
public struct CELSourcePosition: Sendable, Hashable {
    public var line: Int
    public var column: Int
    public var offset: Int
    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }
}

/// Bounds that keep user-written expressions safe (nesting, size, evaluation cost).
public struct CELLimits: Sendable, Hashable {
    /// Default: 250 (nesting of parentheses, calls, member accesses, …).
    public var maximumDepth: Int = 250
    /// Default: 100_000 UTF-8 bytes of source.
    public var maximumExpressionSize: Int = 100_000
    /// Default: 1_000_000 cost units per evaluation (comprehension iterations, sizes of built strings and lists).
    public var maximumCost: Int = 1_000_000
    public init() {}
}

/// Compile-time settings.
public struct CELEnvironment: Sendable {
    public var limits: CELLimits
    /// Default: true. The conformance tests' `disable_macros` turns macros off.
    public var macrosEnabled: Bool
    public init(limits: CELLimits = .init(), macrosEnabled: Bool = true) {
        self.limits = limits
        self.macrosEnabled = macrosEnabled
    }
}

/// The variables an evaluation sees (`payload`, `record`, …).
public struct CELActivation: Sendable {
    public var variables: [String: CELValue]
    public init(_ variables: [String: CELValue] = [:]) { self.variables = variables }
}

/// The single error type of the CEL module: parse, limit and evaluation errors.
public struct CELError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String { case parse, limit, evaluation }
        private let value: Value
        public static let parse = Code(value: .parse)
        public static let limit = Code(value: .limit)
        public static let evaluation = Code(value: .evaluation)
        public var description: String { value.rawValue }
    }
    public var code: Code
    public var message: String
    /// Where in the expression, when known.
    public var position: CELSourcePosition?
    public init(code: Code, message: String, position: CELSourcePosition? = nil) {
        self.code = code
        self.message = message
        self.position = position
    }
    public var description: String {
        guard let position else { return message }
        return "\(position.line):\(position.column): \(message)"
    }
}
