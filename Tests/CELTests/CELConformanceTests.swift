import CEL
import Foundation
import Testing

@Suite struct CELConformanceTests {
    @Test func placeholderUntilRunnerLands() throws {
        let program = try CELEnvironment().compile("1 + 1")
        #expect(try program.evaluate(CELActivation()) == .int(2))
    }
}
