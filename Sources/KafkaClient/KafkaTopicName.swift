// MARK: - KafkaTopicName

/// Kafka's rule for topic names: 1 to 249 characters, each a letter `a`–`z` or `A`–`Z`, a digit, `.`, `_` or `-`,
/// and not `.` or `..`. A broker refuses any other name, so a relay configured with one could never write to it.
public enum KafkaTopicName {
    public static let maximumLength = 249

    /// Why `name` cannot be a topic name, as a clause ("it contains ' '; …"); nil when it can.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name == "." || name == ".." { return "'.' and '..' are not topic names" }
        if let bad = name.unicodeScalars.first(where: { !isAllowed($0) }) {
            return "it contains '\(bad.escaped(asASCII: true))'; Kafka allows only letters a-z and A-Z, digits, "
                + "'.', '_' and '-'"
        }
        if name.utf8.count > maximumLength {
            return "it is \(name.utf8.count) characters long; Kafka allows at most \(maximumLength)"
        }
        return nil
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}
