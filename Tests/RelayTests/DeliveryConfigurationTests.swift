import Testing

@testable import Relay

@Suite("DeliveryConfiguration")
struct DeliveryConfigurationTests {
    @Test("configuration values parse from their relay.yaml spelling")
    func parsing() {
        #expect(DeliveryOrdering(rawValue: "partition") == .partition)
        #expect(DeliveryOrdering(rawValue: "none") == DeliveryOrdering.none)
        #expect(DeliveryOrdering(rawValue: "keys") == nil)
        #expect(DeliveryConfiguration.UnmatchedHandling(rawValue: "dead_letter") == .deadLetter)
        #expect(RetryConfiguration.ReferralNotFoundHandling(rawValue: "retry") == .retry)
        #expect(ErrorClass(rawValue: "record_too_large") == .recordTooLarge)
        #expect(
            ErrorClass.allCases.map(\.rawValue).joined(separator: " ")
                == "api_5xx timeout connection referral_not_found validation identifier_mismatch client_error mapping decode record_too_large rule_removed conversion_not_found"
        )
    }

    @Test(
        "the dispatcher pauses at twice max_in_flight, but not below 1,024 buffered records",
        arguments: [(1, 1_024), (64, 1_024), (512, 1_024), (1_000, 2_000)]
    )
    func dispatcher(maximumInFlight: Int, pauseThreshold: Int) throws {
        let configuration = DeliveryConfiguration(maximumInFlight: maximumInFlight, ordering: .partition)
        try configuration.validate()
        #expect(configuration.dispatcherConfiguration.pauseThreshold == pauseThreshold)
        #expect(configuration.dispatcherConfiguration.resumeThreshold == maximumInFlight)
        #expect(configuration.dispatcherConfiguration.ordering == .partition)
    }

    @Test("max_in_flight below 1 is refused with the setting's name")
    func invalid() {
        #expect {
            try DeliveryConfiguration(maximumInFlight: 0).validate()
        } throws: { error in
            (error as? RelayError)?.message.contains("delivery.max_in_flight") == true
        }
    }
}
