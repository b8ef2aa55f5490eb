/// Active ISO 4217 currency codes.
enum ISO4217 {
    static let codes: Set<String> = Set(
        """
        AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD \
        CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD \
        GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT \
        LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR \
        NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP \
        STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD \
        XCG XOF XPF YER ZAR ZMW ZWG
        """.split(separator: " ").map(String.init)
    )
}

extension ISO4217 {
    /// Currencies whose minor unit is the major unit (ISO 4217 exponent 0).
    private static let wholeUnitCodes: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    ]
    /// Currencies with thousandths (ISO 4217 exponent 3).
    private static let thousandthsCodes: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// Decimal places of the currency's minor unit: 2 for USD, 0 for JPY, 3 for BHD.
    static func minorUnitExponent(of code: String) -> Int {
        if Self.wholeUnitCodes.contains(code) { return 0 }
        if Self.thousandthsCodes.contains(code) { return 3 }
        return 2
    }
}
