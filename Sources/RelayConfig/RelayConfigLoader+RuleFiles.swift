import Foundation
import Rules
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension RelayConfigLoader {
    struct RuleFiles {
        var rules: [(definition: RuleDefinition, locations: RuleSources.Locations)] = []
        var diagnostics: [ConfigDiagnostic] = []
    }

    /// Reads the rules of every file matched by the `rule_files` globs (relative to the config file), in order.
    static func readRuleFiles(
        _ node: Node,
        _ reader: YAMLReader,
        relativeTo configFile: String,
        environment: [String: String],
        examplesOptional: Bool
    ) -> RuleFiles {
        var result = RuleFiles()
        guard let patterns = reader.sequence(node, "rule_files") else { return result }
        let base = directory(of: configFile)
        var seen = Set<String>()
        for patternNode in patterns {
            guard let pattern = reader.string(patternNode, "rule_files entry") else { continue }
            let absolute = pattern.hasPrefix("/") ? pattern : (base.isEmpty ? pattern : base + "/" + pattern)
            let matches = glob(absolute)
            if matches.isEmpty {
                reader.error(patternNode, "rule_files pattern '\(pattern)' matches no file (looked in '\(base)')")
                continue
            }
            for path in matches where seen.insert(path).inserted {
                let shown = displayPath(path, configFile: configFile, base: base)
                guard let data = FileManager.default.contents(atPath: path),
                    let text = String(data: data, encoding: .utf8)
                else {
                    reader.error(patternNode, "cannot read rule file '\(shown)'")
                    continue
                }
                let fileReader = YAMLReader(file: shown, text: text, environment: environment)
                fileReader.examplesOptional = examplesOptional
                if let root = fileReader.compose(text) {
                    var rulesNode: Node? = root
                    if case .mapping = root {
                        rulesNode = fileReader.mapping(root, "the rule file", allowed: ["rules"])?.first?.value
                    }
                    if let rulesNode {
                        let ruleReader = RuleReader(reader: fileReader, directory: directory(of: path))
                        result.rules += ruleReader.rules(rulesNode)
                    }
                }
                result.diagnostics += fileReader.diagnostics
            }
        }
        return result
    }

    /// Shows a rule file as the user would: beside the config file's path as given.
    private static func displayPath(_ path: String, configFile: String, base: String) -> String {
        guard !base.isEmpty, path.hasPrefix(base + "/") else { return path }
        let relative = String(path.dropFirst(base.count + 1))
        let configDirectory = (configFile as NSString).deletingLastPathComponent
        return configDirectory.isEmpty ? relative : configDirectory + "/" + relative
    }

    /// Sorted paths matching a shell glob.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            if let path = result.gl_pathv[index] { paths.append(String(cString: path)) }
        }
        return paths.sorted()
    }
}
