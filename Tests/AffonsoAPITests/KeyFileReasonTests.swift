import Foundation
import Testing

@testable import AffonsoAPI

/// A key file that cannot be read (a secret unmounted after a 401) is named with the system's reason, never with
/// Foundation's "The operation could not be completed".
struct KeyFileReasonTests {
    @Test("a missing key file: the path, the system's reason and what to do")
    func missingFile() {
        let error = #expect(throws: AffonsoError.self) {
            try AffonsoClient.readKey(.apiKeyFile("/nonexistent/affonso/api-key"))
        }
        #expect(
            error?.message
                == "cannot read the API key file /nonexistent/affonso/api-key (affonso.api_key_file): No such file or "
                + "directory; mount the secret at that path or set affonso.api_key")
        #expect(error?.message.contains("could not be completed") == false)
    }
}
