import Testing

@testable import Relay

@Suite("SecretScrubber")
struct SecretScrubberTests {
    @Test(
        "secrets are redacted, their kind stays readable",
        arguments: [
            ("key sk_live_51HxYzABC was refused", "key sk_live_[redacted] was refused"),
            ("sk_test_abc-DEF_123", "sk_test_[redacted]"),
            ("Authorization: Bearer abc.def-ghi/jkl+mno==", "Authorization: Bearer [redacted]"),
            ("authorization: bearer   tok123", "authorization: bearer   [redacted]"),
            ("url?api_key=abc123&x=1", "url?api_key=[redacted]&x=1"),
            (#"{"api_key": "abc123"}"#, #"{"api_key": "[redacted]"}"#),
            ("X-API-Key: k-123", "X-API-Key: [redacted]"),
            ("two keys sk_live_a and sk_live_b", "two keys sk_live_[redacted] and sk_live_[redacted]"),
        ]
    )
    func redacts(input: String, expected: String) {
        #expect(SecretScrubber.scrub(input) == expected)
    }

    @Test(
        "ordinary text is left alone",
        arguments: [
            "no referral matched customer_id cus_1",
            "the api key is missing; set affonso.api_key",
            "risk_live_value and desk_test_x are not keys",
            "Bearer",
            "naïve café — ünïcode stays",
        ]
    )
    func leavesText(input: String) {
        #expect(SecretScrubber.scrub(input) == input)
    }

    @Test("known secrets are removed wherever they appear")
    func knownSecrets() {
        #expect(SecretScrubber.scrub("a=XYZ, b=XYZ", knownSecrets: ["XYZ", ""]) == "a=[redacted], b=[redacted]")
    }
}
