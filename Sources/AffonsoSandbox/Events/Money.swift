/// Money in the sandbox: integer minor units of the currency (cents for USD, yen for JPY, fils for BHD), so that
/// partial refunds add up exactly and a commission never drifts by a rounding error.
///
/// - Amounts arrive as JSON numbers in major units and become minor units once, when accepted: a conversion's
///   `sale_amount` is rounded to the currency's minor unit (halves to even); a refund's `amount` must already be a
///   whole number of minor units (a refund of 10.005 USD is refused, not guessed at).
/// - Every amount is at most ``maximumMinorUnits`` (2^53 − 1), the largest integer a JSON number read as a double
///   still holds exactly, so any amount the sandbox answers reads back unchanged.
/// - Commission rates are taken to six decimals (parts per million); a commission is
///   `round(sale × rate)`, halves away from zero.
/// - After refunds the commission is `round(commission × remaining ÷ sale)`, halves away from zero, computed from
///   the totals each time (never by subtracting rounded pieces): refunds that add up to the sale leave exactly 0,
///   and the result does not depend on how a refund was split.
enum Money {
    /// 2^53 − 1.
    static let maximumMinorUnits: Int64 = 9_007_199_254_740_991

    /// Why a major-unit amount has no minor-unit value.
    enum Failure: Error, Equatable {
        /// Zero, negative, NaN or infinite.
        case notPositive
        /// More than ``maximumMinorUnits``.
        case tooLarge
        /// Finer than the currency's minor unit (only when rounding is not allowed).
        case tooPrecise
        /// Rounds to zero minor units.
        case belowMinorUnit
    }

    /// `amount` (major units) in minor units of `currency`.
    /// - Parameter rounding: round to the minor unit (halves to even) instead of refusing finer amounts.
    static func minorUnits(of amount: Double, currency: String, rounding: Bool) -> Result<Int64, Failure> {
        guard amount.isFinite, amount > 0 else { return .failure(.notPositive) }
        let scale = Double(Self.scale(of: currency))
        let scaled = amount * scale
        guard scaled <= Double(Self.maximumMinorUnits) + 0.5 else { return .failure(.tooLarge) }
        let whole = scaled.rounded(.toNearestOrEven)
        // Division is correctly rounded: `whole / scale` is the double nearest to the decimal `whole` minor units,
        // which is what a JSON reader produced for the amount exactly when it had no finer digits.
        if !rounding, whole / scale != amount { return .failure(.tooPrecise) }
        guard whole >= 1 else { return .failure(rounding ? .belowMinorUnit : .tooPrecise) }
        let minor = Int64(whole)
        return minor <= Self.maximumMinorUnits ? .success(minor) : .failure(.tooLarge)
    }

    /// 10^exponent of the currency's minor unit: 100 for USD, 1 for JPY, 1000 for BHD.
    static func scale(of currency: String) -> Int64 {
        switch ISO4217.minorUnitExponent(of: currency) {
        case 0: 1
        case 3: 1000
        default: 100
        }
    }

    /// The amount as a double in major units, for Swift accessors (exact for amounts the JSON shows).
    static func major(_ minor: Int64, currency: String) -> Double {
        Double(minor) / Double(Self.scale(of: currency))
    }

    /// The amount in major units as exact decimal text: `1234` minor USD is `12.34`.
    static func text(_ minor: Int64, currency: String) -> String {
        let scale = Self.scale(of: currency)
        let sign = minor < 0 ? "-" : ""
        let magnitude = minor.magnitude
        let whole = magnitude / UInt64(scale)
        let fraction = magnitude % UInt64(scale)
        guard scale > 1 else { return sign + String(whole) }
        let digits = scale == 1000 ? 3 : 2
        let fractionText = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }

    /// The largest amount in major units, for messages: `90071992547409.91 USD`.
    static func maximumText(currency: String) -> String {
        Self.text(Self.maximumMinorUnits, currency: currency) + " " + currency
    }

    /// A rate (0…1) in parts per million.
    static func partsPerMillion(_ rate: Double) -> Int64 {
        guard rate.isFinite, rate > 0 else { return 0 }
        return Int64((min(rate, 1) * 1_000_000).rounded())
    }

    /// `round(sale × ppm ÷ 10^6)`, halves away from zero.
    static func commission(sale: Int64, partsPerMillion: Int64) -> Int64 {
        Self.proportion(sale, numerator: partsPerMillion, denominator: 1_000_000)
    }

    /// The commission left after refunds: `round(commission × remaining ÷ sale)`, halves away from zero.
    static func netCommission(commission: Int64, sale: Int64, refunded: Int64) -> Int64 {
        guard sale > 0 else { return 0 }
        let remaining = max(0, sale - refunded)
        return Self.proportion(commission, numerator: remaining, denominator: sale)
    }

    /// `round(value × numerator ÷ denominator)` for non-negative operands, in 128 bits so nothing overflows.
    private static func proportion(_ value: Int64, numerator: Int64, denominator: Int64) -> Int64 {
        let product = Int128(value) * Int128(numerator)
        let (quotient, remainder) = product.quotientAndRemainder(dividingBy: Int128(denominator))
        let rounded = 2 * remainder >= Int128(denominator) ? quotient + 1 : quotient
        return Int64(clamping: rounded)
    }
}
