import Testing

@Suite struct CELTestsPlaceholder {
    @Test func packageBuilds() { #expect(Bool(true)) }
}
