import Testing

@Suite struct IntegrationTestsPlaceholder {
    @Test func packageBuilds() { #expect(Bool(true)) }
}
