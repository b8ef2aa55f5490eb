import AffonsoAPI
import Foundation
import KafkaClient
import RelayConfig

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How an error reads to an operator: its human message, never a Swift type name or Foundation's
/// "The operation could not be completed".
enum ErrorText {
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as ConfigError: return error.description
        case let error as KafkaError: return error.message
        case let error as AffonsoError: return error.message
        default: break
        }
        if error is CocoaError || type(of: error) is NSError.Type {
            return foundation(error as NSError)
        }
        return String(describing: error)
    }

    /// Errors that mean the configuration is wrong (exit 2), as opposed to a failure while running (exit 1).
    static func isConfiguration(_ error: any Error) -> Bool {
        switch error {
        case is ConfigError: return true
        case let error as KafkaError: return error.code == .configuration
        case let error as AffonsoError: return error.errorClass == .configuration
        default: return false
        }
    }

    /// A Foundation error as the file and the system's reason, e.g. `/x/key: No such file or directory`.
    private static func foundation(_ error: NSError) -> String {
        var reason: String?
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else if error.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(error.code)))
        } else if let text = error.userInfo[NSLocalizedFailureReasonErrorKey] as? String {
            reason = text
        }
        let path = (error.userInfo[NSFilePathErrorKey] as? String) ?? (error.userInfo["NSURL"] as? URL)?.path
        let text = reason ?? "\(error.domain) error \(error.code)"
        return path.map { "\($0): \(text)" } ?? text
    }
}
