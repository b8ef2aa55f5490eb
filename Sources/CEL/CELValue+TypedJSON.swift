// Typed JSON (docs/rules.md): {"int":"1"} {"double":1.5|"NaN"} {"map":[[k,v],…]} … for `cel eval` and conformance files.

import Foundation

extension CELValue {
    /// Decodes a typed-JSON object as produced by `JSONSerialization` (`[String: Any]` with one key).
    /// - Throws: `CELError` (code `.evaluation`) naming what was malformed.
    public init(typedJSON object: Any) throws(CELError) {
        try self.init(typedJSON: object, depth: 0)
    }

    private init(typedJSON object: Any, depth: Int) throws(CELError) {
        guard depth < 1_000 else {
            throw CELError(code: .limit, message: "typed JSON nests deeper than 1000 levels")
        }
        guard let dictionary = object as? [String: Any], dictionary.count == 1, let (tag, payload) = dictionary.first
        else {
            throw CELError.evaluation("typed JSON value must be an object with exactly one key like {\"int\": \"1\"}")
        }
        func bad() -> CELError { .evaluation("typed JSON: invalid payload for '\(tag)'") }
        switch tag {
        case "null": self = .null
        case "bool":
            guard let number = payload as? NSNumber, CFGetTypeIDIfAvailable(number) else { throw bad() }
            self = .bool(number.boolValue)
        case "int":
            if let s = payload as? String, let i = Int64(s) {
                self = .int(i)
            } else if let n = payload as? NSNumber, let i = Int64(exactly: n.doubleValue) {
                self = .int(i)
            } else {
                throw bad()
            }
        case "uint":
            if let s = payload as? String, let u = UInt64(s) {
                self = .uint(u)
            } else if let n = payload as? NSNumber, let u = UInt64(exactly: n.doubleValue) {
                self = .uint(u)
            } else {
                throw bad()
            }
        case "double":
            if let s = payload as? String {
                switch s {
                case "NaN": self = .double(.nan)
                case "Infinity": self = .double(.infinity)
                case "-Infinity": self = .double(-.infinity)
                default:
                    guard let d = Double(s) else { throw bad() }
                    self = .double(d)
                }
            } else if let n = payload as? NSNumber {
                self = .double(n.doubleValue)
            } else {
                throw bad()
            }
        case "string":
            guard let s = payload as? String else { throw bad() }
            self = .string(s)
        case "bytes":
            guard let s = payload as? String, let data = Data(base64Encoded: s) else { throw bad() }
            self = .bytes(Array(data))
        case "list":
            guard let items = payload as? [Any] else { throw bad() }
            var values: [CELValue] = []
            for item in items { values.append(try CELValue(typedJSON: item, depth: depth + 1)) }
            self = .list(values)
        case "map":
            guard let pairs = payload as? [Any] else { throw bad() }
            var entries: [(key: CELValue, value: CELValue)] = []
            for pair in pairs {
                guard let kv = pair as? [Any], kv.count == 2 else { throw bad() }
                entries.append(
                    (try CELValue(typedJSON: kv[0], depth: depth + 1), try CELValue(typedJSON: kv[1], depth: depth + 1))
                )
            }
            self = .map(CELMap(entries))
        case "timestamp":
            guard let s = payload as? String else { throw bad() }
            self = .timestamp(try CELTimestamp.parse(s))
        case "duration":
            guard let s = payload as? String else { throw bad() }
            self = .duration(try CELDuration.parse(s))
        case "type":
            guard let s = payload as? String else { throw bad() }
            self = .type(CELType(name: s))
        case "optional":
            if payload is NSNull {
                self = .optional(nil)
            } else {
                self = .optional(try CELValue(typedJSON: payload, depth: depth + 1))
            }
        default:
            throw CELError.evaluation("typed JSON: unknown type tag '\(tag)'")
        }
    }

    /// Decodes typed JSON text.
    public init(typedJSONText text: String) throws(CELError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw CELError.evaluation("invalid JSON (\(CELValue.jsonProblem(error)))")
        }
        try self.init(typedJSON: object)
    }

    /// What `JSONSerialization` found wrong (e.g. "Unexpected end of file"), not Foundation's "The operation could
    /// not be completed".
    static func jsonProblem(_ error: any Error) -> String {
        let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return detail.map { "\($0)".trimmingCharacters(in: .whitespaces) } ?? "the text is not JSON"
    }

    /// The value as a `JSONSerialization`-compatible typed-JSON object.
    public var typedJSON: Any {
        switch self {
        case .null: return ["null": NSNull()]
        case .bool(let b): return ["bool": b]
        case .int(let i): return ["int": String(i)]
        case .uint(let u): return ["uint": String(u)]
        case .double(let d):
            if d.isNaN { return ["double": "NaN"] }
            if d.isInfinite { return ["double": d < 0 ? "-Infinity" : "Infinity"] }
            return ["double": d]
        case .string(let s): return ["string": s]
        case .bytes(let b): return ["bytes": Data(b).base64EncodedString()]
        case .list(let l): return ["list": l.map(\.typedJSON)]
        case .map(let m): return ["map": m.entries.map { [$0.key.typedJSON, $0.value.typedJSON] }]
        case .timestamp(let t): return ["timestamp": t.rfc3339]
        case .duration(let d): return ["duration": d.text]
        case .type(let t): return ["type": t.name]
        case .optional(let o): return ["optional": o.map(\.typedJSON) ?? NSNull()]
        }
    }

    /// The value as compact typed-JSON text with deterministic formatting.
    public var typedJSONText: String {
        var out = ""
        writeTypedJSON(into: &out)
        return out
    }

    private func writeTypedJSON(into out: inout String) {
        func tagged(_ tag: String, _ body: (inout String) -> Void) {
            out += "{\"\(tag)\":"
            body(&out)
            out += "}"
        }
        switch self {
        case .null: out += "{\"null\":null}"
        case .bool(let b): out += "{\"bool\":\(b)}"
        case .int(let i): out += "{\"int\":\"\(i)\"}"
        case .uint(let u): out += "{\"uint\":\"\(u)\"}"
        case .double(let d):
            if d.isNaN {
                out += "{\"double\":\"NaN\"}"
            } else if d.isInfinite {
                out += "{\"double\":\"\(d < 0 ? "-Infinity" : "Infinity")\"}"
            } else {
                out += "{\"double\":\(d.description)}"
            }
        case .string(let s): tagged("string") { $0 += Self.jsonString(s) }
        case .bytes(let b): tagged("bytes") { $0 += "\"\(Data(b).base64EncodedString())\"" }
        case .list(let items):
            tagged("list") { out in
                out += "["
                for (i, item) in items.enumerated() {
                    if i > 0 { out += "," }
                    item.writeTypedJSON(into: &out)
                }
                out += "]"
            }
        case .map(let map):
            tagged("map") { out in
                out += "["
                for (i, entry) in map.entries.enumerated() {
                    if i > 0 { out += "," }
                    out += "["
                    entry.key.writeTypedJSON(into: &out)
                    out += ","
                    entry.value.writeTypedJSON(into: &out)
                    out += "]"
                }
                out += "]"
            }
        case .timestamp(let t): tagged("timestamp") { $0 += "\"\(t.rfc3339)\"" }
        case .duration(let d): tagged("duration") { $0 += "\"\(d.text)\"" }
        case .type(let t): tagged("type") { $0 += Self.jsonString(t.name) }
        case .optional(let o):
            tagged("optional") { out in
                if let o { o.writeTypedJSON(into: &out) } else { out += "null" }
            }
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Strict equality for conformance tests: same CEL type, doubles bit-for-bit (NaN equals NaN), maps unordered.
    public func conformanceEquals(_ other: CELValue) -> Bool {
        switch (self, other) {
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.list(let a), .list(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.conformanceEquals($1) }
        case (.map(let a), .map(let b)):
            guard a.count == b.count else { return false }
            for entry in a.entries {
                guard let match = b.entries.first(where: { $0.key.conformanceEquals(entry.key) }),
                    match.value.conformanceEquals(entry.value)
                else { return false }
            }
            return true
        case (.optional(let a), .optional(let b)):
            switch (a, b) {
            case (nil, nil): return true
            case (let x?, let y?): return x.conformanceEquals(y)
            default: return false
            }
        default: return self == other
        }
    }
}

/// True when `number` came from a JSON boolean.
private func CFGetTypeIDIfAvailable(_ number: NSNumber) -> Bool {
    let type = String(cString: number.objCType)
    return type == "c" || type == "B"
}
