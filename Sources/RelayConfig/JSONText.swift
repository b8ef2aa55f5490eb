import CEL
import Rules

/// Small helpers over the Rules module's JSON and time formats, for example records.
enum JSONText {
    static func encode(_ value: CELValue) -> String { RulesJSON.encode(value) }
}

enum Timestamps {
    static func parse(_ text: String) -> CELTimestamp? { RulesJSON.parseTimestamp(text) }
}
