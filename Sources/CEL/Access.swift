// Field selection, indexing and presence tests, including their optional forms.

enum Access {
    static func select(_ value: CELValue, _ field: String, optional: Bool) throws(CELError) -> CELValue {
        switch value {
        case .map(let map):
            if let found = map[field] { return optional ? .optional(found) : found }
            if optional { return .optional(nil) }
            throw CELError.evaluation(
                "no such key: '\(field)'; check with has(x.\(field)) or use x.?\(field).orValue(default)"
            )
        case .optional(let wrapped):
            guard let wrapped else { return .optional(nil) }
            let inner = try select(wrapped, field, optional: true)
            return inner
        default:
            throw CELError.evaluation(
                "type '\(value.typeName)' does not support field selection (selecting '\(field)')")
        }
    }

    static func has(_ value: CELValue, _ field: String) throws(CELError) -> CELValue {
        switch value {
        case .map(let map): return .bool(map[field] != nil)
        case .optional(let wrapped):
            guard let wrapped else { return .bool(false) }
            return try has(wrapped, field)
        default:
            throw CELError.evaluation("invalid argument to has(): type '\(value.typeName)' has no fields")
        }
    }

    static func index(_ container: CELValue, _ key: CELValue, optional: Bool) throws(CELError) -> CELValue {
        switch container {
        case .list(let items):
            let position: Int
            switch key {
            case .int(let i):
                position = Int(truncatingIfNeeded: i)
                if i < Int64(Int.min) || i > Int64(Int.max) { throw outOfRange(key, items.count) }
            case .uint(let u):
                guard u <= UInt64(Int.max) else { throw outOfRange(key, items.count) }
                position = Int(u)
            case .double(let d):
                guard d.rounded(.towardZero) == d, abs(d) < 9e18 else {
                    throw CELError.evaluation(
                        "invalid_argument: list index \(CELValue.formatDouble(d)) is not an integer")
                }
                position = Int(d)
            default:
                throw CELError.noOverload("_[_]", [container, key])
            }
            guard position >= 0 && position < items.count else {
                if optional { return .optional(nil) }
                throw outOfRange(key, items.count)
            }
            return optional ? .optional(items[position]) : items[position]
        case .map(let map):
            switch key {
            case .int, .uint, .double, .bool, .string: break
            default:
                if optional { return .optional(nil) }
                throw CELError.evaluation("no such key: unsupported key type \(key.typeName)")
            }
            if let found = map[key] { return optional ? .optional(found) : found }
            if optional { return .optional(nil) }
            throw CELError.evaluation("no such key: \(key.displayString())")
        case .optional(let wrapped):
            guard let wrapped else { return .optional(nil) }
            return try index(wrapped, key, optional: true)
        default:
            throw CELError.noOverload("_[_]", [container, key])
        }
    }

    private static func outOfRange(_ key: CELValue, _ count: Int) -> CELError {
        CELError.evaluation("invalid_argument: index \(key.displayString()) out of range for list of size \(count)")
    }
}
