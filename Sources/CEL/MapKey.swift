// Map key normalisation and the field position cache used by CELMap lookups.

import Synchronization

/// The entry position where a field was last found, shared by all evaluations of one select node.
final class FieldCache: Sendable {
    let hint = Atomic<Int>(0)
}

/// A map key normalised so that numerically equal `int`, `uint` and `double` keys coincide.
package enum MapKey: Hashable, Sendable {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)

    package init?(_ value: CELValue) {
        switch value {
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .uint(let u): self = u <= UInt64(Int64.max) ? .int(Int64(u)) : .uint(u)
        case .string(let s): self = .string(s)
        case .double(let d):
            guard d.rounded(.towardZero) == d else { return nil }
            if d >= -9_223_372_036_854_775_808.0 && d < 9_223_372_036_854_775_808.0 {
                self = .int(Int64(d))
            } else if d >= 0 && d < 18_446_744_073_709_551_616.0 {
                self = .uint(UInt64(d))
            } else {
                return nil
            }
        default: return nil
        }
    }
}
