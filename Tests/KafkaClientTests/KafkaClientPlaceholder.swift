import Testing

@Suite struct KafkaClientTestsPlaceholder {
    @Test func packageBuilds() { #expect(Bool(true)) }
}
