/// A parsed JSON value. The sandbox parses request bodies itself so that it can tell a
/// user exactly which field has which wrong type, and so that the hot path stays cheap.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type name used in validation messages ("got a number").
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The value for messages: numbers as written, other types by name.
    var shortDescription: String {
        if case .number(let value) = self { return JSONWriter.format(value) }
        return self.typeName
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
