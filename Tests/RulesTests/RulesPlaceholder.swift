import Testing

@Suite struct RulesTestsPlaceholder {
    @Test func packageBuilds() { #expect(Bool(true)) }
}
