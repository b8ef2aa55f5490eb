import Foundation
import Yams

/// The referral seed file: a YAML or JSON list of referrals, or a mapping with `referrals:` and
/// optional `affiliates:` (`id`, `commission_rate`).
///
/// ```yaml
/// - id: ref_1
///   affiliate_id: aff_1
///   customer_id: cus_1
///   external_user_id: user_1
///   click_id: clk_1
///   status: lead
/// ```
public struct SandboxSeed: Sendable, Hashable {
    public var referrals: [SandboxReferral]
    /// Commission rate (0…1) by affiliate id.
    public var commissionRates: [String: Double]

    public init(referrals: [SandboxReferral] = [], commissionRates: [String: Double] = [:]) {
        self.referrals = referrals
        self.commissionRates = commissionRates
    }

    /// Reads a seed file (YAML or JSON; JSON is read as YAML).
    /// - Throws: `SandboxError` naming the file, entry and field that is wrong.
    public static func load(path: String) throws(SandboxError) -> SandboxSeed {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SandboxError(.invalidSeedFile, "\(path): referral seed file not found; check the --referrals path")
        }
        // Foundation's errors read "The operation could not be completed": say what is wrong instead.
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SandboxError(
                .invalidSeedFile,
                "\(path): cannot read the referral seed file (is it a readable file, not a directory?)"
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SandboxError(
                .invalidSeedFile, "\(path): the referral seed file is not UTF-8 text; save it as UTF-8 YAML or JSON")
        }
        return try self.parse(text, source: path)
    }

    /// Parses seed text; `source` names it in error messages.
    /// - Throws: `SandboxError` naming the entry and field that is wrong.
    public static func parse(_ text: String, source: String) throws(SandboxError) -> SandboxSeed {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw SandboxError(.invalidSeedFile, "\(source): not valid YAML or JSON: \(error)")
        }
        let value = JSONValue(yaml: document)
        var seed = SandboxSeed()
        let referralList: [JSONValue]
        switch value {
        case .null:
            return seed
        case .array(let list):
            referralList = list
        case .object(let object):
            if case .array(let affiliates)? = object["affiliates"] {
                for (index, affiliate) in affiliates.enumerated() {
                    let place = "\(source): affiliates[\(index)]"
                    guard case .object(let fields) = affiliate, case .string(let id)? = fields["id"] else {
                        throw SandboxError(.invalidSeedFile, "\(place): needs an `id` string")
                    }
                    guard case .number(let rate)? = fields["commission_rate"], rate >= 0, rate <= 1 else {
                        throw SandboxError(
                            .invalidSeedFile,
                            "\(place): `commission_rate` must be a number from 0 to 1 (0.3 = 30%)"
                        )
                    }
                    seed.commissionRates[id] = rate
                }
            }
            guard case .array(let list)? = object["referrals"] else {
                throw SandboxError(
                    .invalidSeedFile,
                    "\(source): expected a list of referrals, or a mapping with a `referrals:` list"
                )
            }
            referralList = list
        default:
            throw SandboxError(.invalidSeedFile, "\(source): expected a list of referrals, got \(value.typeName)")
        }
        for (index, entry) in referralList.enumerated() {
            let place = "\(source): referrals[\(index)]"
            do throws(SandboxReferral.DecodingFailure) {
                seed.referrals.append(try SandboxReferral(json: entry))
            } catch {
                throw SandboxError(.invalidSeedFile, "\(place): \(error.message)")
            }
        }
        return seed
    }
}

extension JSONValue {
    /// Converts what `Yams.load` returns.
    init(yaml: Any?) {
        switch yaml {
        case nil: self = .null
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .number(Double(value))
        case let value as Double: self = .number(value)
        case let value as String: self = .string(value)
        case let value as [Any]: self = .array(value.map { JSONValue(yaml: $0) })
        case let value as [String: Any]: self = .object(value.mapValues { JSONValue(yaml: $0) })
        case let value as [AnyHashable: Any]:
            var object: [String: JSONValue] = [:]
            for (key, element) in value { object["\(key)"] = JSONValue(yaml: element) }
            self = .object(object)
        default: self = .null
        }
    }
}
