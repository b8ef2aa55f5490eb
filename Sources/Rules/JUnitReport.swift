/// `rules test --format junit`: the example reports as JUnit XML, the format CI systems read (GitLab, Jenkins,
/// GitHub test reporters): one `<testsuite>` per rule, one `<testcase>` per example, a `<failure>` for each that
/// failed.
public enum JUnitReport {
    /// The XML document for `reports`, in their order.
    public static func xml(_ reports: [RuleSet.ExampleReport], name: String = "affonso-relay rules test") -> String {
        var rules: [String] = []
        var byRule: [String: [RuleSet.ExampleReport]] = [:]
        for report in reports {
            if byRule[report.rule] == nil { rules.append(report.rule) }
            byRule[report.rule, default: []].append(report)
        }
        let failures = reports.filter { !$0.passed }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\"\(escape(name))\" tests=\"\(reports.count)\" failures=\"\(failures)\">\n"
        for rule in rules {
            let cases = byRule[rule] ?? []
            let ruleFailures = cases.filter { !$0.passed }.count
            xml += "  <testsuite name=\"\(escape(rule))\" tests=\"\(cases.count)\" failures=\"\(ruleFailures)\">\n"
            for report in cases {
                var attributes = "classname=\"\(escape(rule))\" name=\"\(escape(report.example))\""
                if let location = report.location, let colon = location.lastIndex(of: ":") {
                    attributes += " file=\"\(escape(String(location[..<colon])))\""
                    attributes += " line=\"\(escape(String(location[location.index(after: colon)...])))\""
                }
                if let failure = report.failure {
                    let place = report.location.map { "\($0): " } ?? ""
                    xml += "    <testcase \(attributes)>\n"
                    xml += "      <failure message=\"\(escape(failure))\">\(escape(place + failure))</failure>\n"
                    xml += "    </testcase>\n"
                } else {
                    xml += "    <testcase \(attributes)/>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        xml += "</testsuites>\n"
        return xml
    }

    /// Text safe inside an XML attribute or element; control characters XML 1.0 cannot carry become U+FFFD.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\n": result += "&#10;"
            case "\t", "\r": result.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    result += "\u{FFFD}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
