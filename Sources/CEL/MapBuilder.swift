// Builds maps from evaluated entries with CEL's key rules.

/// Builds a map literal, rejecting unsupported and repeated keys.
struct MapBuilder {
    private var entries: [(key: CELValue, value: CELValue)] = []
    private var seen: Set<MapKey> = []

    mutating func insert(_ key: CELValue, _ value: CELValue) throws(CELError) {
        guard let normalized = MapKey(key), !(key.isDouble) else {
            throw CELError.evaluation("unsupported key type \(key.typeName) (map keys are int, uint, bool or string)")
        }
        guard seen.insert(normalized).inserted else {
            throw CELError.evaluation("Failed with repeated key: \(key.displayString())")
        }
        entries.append((key, value))
    }

    func build() -> CELMap { CELMap(entries) }
}

extension CELValue {
    var isDouble: Bool {
        if case .double = self { return true }
        return false
    }
}
