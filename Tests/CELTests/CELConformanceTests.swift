import CEL
import Foundation
import Testing

/// Runs every cel-spec conformance file in `Conformance/` beside this file through the same runner as the CLI.
@Suite struct CELConformanceTests {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // CELTests
        .appendingPathComponent("Conformance")

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test func conformanceFilesArePresent() {
        #expect(Self.files.count >= 18, "expected the cel-spec conformance files in \(Self.directory.path)")
    }

    @Test(arguments: files)
    func conformanceFile(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        let results = try CELConformance.run(fileContents: data)
        #expect(!results.isEmpty)
        for result in results where !result.passed {
            Issue.record("\(result.id): \(result.detail)")
        }
    }

    @Test func skipListStaysUnderThreePercent() throws {
        var total = 0
        for name in Self.files {
            let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
            total += try CELConformance.run(fileContents: data).count
        }
        #expect(total > 1000)
        #expect(Double(CELConformance.skipList.count) < Double(total) * 0.03)
        for (id, reason) in CELConformance.skipList { #expect(!reason.isEmpty, "skip of \(id) needs a reason") }
    }
}
