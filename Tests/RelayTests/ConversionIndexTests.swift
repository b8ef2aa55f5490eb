import Testing

@testable import Relay

@Suite("Conversion index")
struct ConversionIndexTests {
    @Test("every remembered conversion is found, a newer id replaces an older one, and unknown keys are not found")
    func remembersAndFinds() {
        var index = ConversionIndex(capacity: 16)
        for number in 0..<50_000 {
            let inserted = index.insert("in_\(number)", conversionID: "com_\(number)")
            #expect(inserted)
        }
        #expect(index.count == 50_000)
        var wrong = 0
        for number in 0..<50_000 where index.conversionID(for: "in_\(number)") != "com_\(number)" { wrong += 1 }
        #expect(wrong == 0)
        #expect(index.conversionID(for: "in_50000") == nil)
        #expect(index.conversionID(for: "") == nil)
        index.insert("in_7", conversionID: "com_replaced")
        #expect(index.conversionID(for: "in_7") == "com_replaced")
        #expect(index.count == 50_000, "a replaced key is counted once")
    }

    @Test("ids that are empty or absurdly long are refused, keys of any size are fine")
    func absurdValues() {
        var index = ConversionIndex()
        let empty = index.insert("in_1", conversionID: "")
        let long = index.insert("in_1", conversionID: String(repeating: "x", count: 256))
        #expect(!empty && !long)
        #expect(index.conversionID(for: "in_1") == nil)
        let hugeKey = String(repeating: "k", count: 1_000_000)
        index.insert(hugeKey, conversionID: "com_huge")
        #expect(index.conversionID(for: hugeKey) == "com_huge")
        index.insert("ü€😀", conversionID: "com_ünïcode")
        #expect(index.conversionID(for: "ü€😀") == "com_ünïcode")
    }

    @Test("a million conversions take less than 64 MiB")
    func millionConversions() async {
        var index = ConversionIndex()
        for number in 0..<1_000_000 {
            index.insert("in_1Q2w3E4r5T6y7U8i\(number)", conversionID: "com_8f3kd92mxq\(number)")
            // Seconds of inserts on a loaded 2-core machine: let the tests waiting on deadlines run meanwhile.
            if number % 10_000 == 9_999 { await Task.yield() }
        }
        #expect(index.count == 1_000_000)
        #expect(index.memoryBytes < 64 << 20, "\(index.memoryBytes) bytes")
        #expect(index.conversionID(for: "in_1Q2w3E4r5T6y7U8i999999") == "com_8f3kd92mxq999999")
    }
}
