import Testing

@Suite struct AffonsoSandboxTestsPlaceholder {
    @Test func packageBuilds() { #expect(Bool(true)) }
}
