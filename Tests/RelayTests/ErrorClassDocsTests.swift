import Foundation
import Relay
import Testing

/// docs/affonso.md is where operators look up the class of a dead letter: it must list every one.
@Suite("error classes in docs/affonso.md")
struct ErrorClassDocsTests {
    @Test("every error class has a row")
    func everyClassIsDocumented() throws {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let documentation = try String(
            contentsOfFile: parts.joined(separator: "/") + "/docs/affonso.md", encoding: .utf8)
        let missing = ErrorClass.allCases.filter { !documentation.contains("| `\($0.rawValue)` |") }
        #expect(ErrorClass.allCases.count >= 11)
        #expect(missing.isEmpty, "docs/affonso.md has no row for: \(missing.map(\.rawValue).joined(separator: ", "))")
    }
}
