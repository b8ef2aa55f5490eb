import Testing

@Suite struct AffonsoAPITestsPlaceholder {
    @Test func packageBuilds() { #expect(Bool(true)) }
}
