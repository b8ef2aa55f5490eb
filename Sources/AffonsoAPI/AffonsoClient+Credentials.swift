import Foundation

// MARK: - API key

extension AffonsoClient {
    /// Reads the key from the configuration or its file.
    static func readKey(_ credentials: AffonsoClientConfiguration.Credentials) throws(AffonsoError) -> String {
        switch credentials.source {
        case .key(let key):
            let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else {
                throw AffonsoError(
                    code: .apiKeyUnavailable,
                    message: "affonso.api_key is empty; set it (e.g. api_key: ${AFFONSO_API_KEY}) "
                        + "or use affonso.api_key_file"
                )
            }
            return trimmed
        case .file(let path):
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw AffonsoError(
                    code: .apiKeyUnavailable,
                    message:
                        "cannot read the API key file \(path) (affonso.api_key_file): \(Self.reason(error)); "
                        + "mount the secret at that path or set affonso.api_key",
                    underlying: error
                )
            }
            let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else {
                throw AffonsoError(
                    code: .apiKeyUnavailable,
                    message: "the API key file \(path) (affonso.api_key_file) is empty; write the key into it"
                )
            }
            guard !key.contains(where: { $0.isNewline || $0 == " " }) else {
                throw AffonsoError(
                    code: .apiKeyUnavailable,
                    message: "the API key file \(path) (affonso.api_key_file) holds more than one line or word; "
                        + "it must contain only the key"
                )
            }
            return key
        }
    }

    /// Why a file could not be read, as the system says it (`No such file or directory`), not Foundation's "The
    /// operation could not be completed".
    static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        switch CocoaError.Code(rawValue: error.code) {
        case .fileReadNoSuchFile, .fileNoSuchFile: return "No such file or directory"
        case .fileReadNoPermission: return "Permission denied"
        default: return error.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32(error.code))) : "unreadable"
        }
    }

    /// The key to send now, re-reading the file first if the API rejected the last one.
    func currentKey() throws(AffonsoError) -> String {
        let state = key.withLock { $0 }
        guard state.needsReload, configuration.credentials.filePath != nil else { return state.current }
        let fresh = try Self.readKey(configuration.credentials)
        keyObserver(fresh)
        key.withLock { $0.current = fresh }
        return fresh
    }

    /// After a 401/403 of a request sent with `rejected`: re-reads the key file. Returns `true` when it holds a
    /// different key (new, or already loaded by a concurrent request), so the request is worth sending again at
    /// once; otherwise later sends keep re-reading the file.
    func reloadKeyAfterRejection(of rejected: String?) -> Bool {
        guard configuration.credentials.filePath != nil else { return false }
        let fresh = try? Self.readKey(configuration.credentials)
        if let fresh { keyObserver(fresh) }
        return key.withLock { state in
            guard let fresh, fresh != rejected else {
                state.needsReload = true
                return false
            }
            state.current = fresh
            state.needsReload = false
            return true
        }
    }

    /// A request succeeded: the key in use is good, stop re-reading the file.
    func markKeyAccepted() {
        key.withLock { state in
            if state.needsReload { state.needsReload = false }
        }
    }
}
