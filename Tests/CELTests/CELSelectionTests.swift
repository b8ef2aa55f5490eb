import CEL
import Testing

/// What an expression reads of a variable: the relay decodes only that much of a record's JSON value.
@Suite("CEL selections")
struct CELSelectionTests {
    static func selection(_ source: String) throws -> CELSelection {
        try CELEnvironment().compile(source).selection(of: "payload")
    }

    static func path(_ names: String..., whole: Bool = true) -> CELSelection {
        var selection = whole ? CELSelection.whole : CELSelection()
        for name in names.reversed() { selection = CELSelection(members: [name: selection]) }
        return selection
    }

    @Test("member chains read only their last member, whole")
    func chains() throws {
        #expect(try Self.selection("payload.order.customer.id") == Self.path("order", "customer", "id"))
        #expect(try Self.selection("double(payload.order.total) / 100.0") == Self.path("order", "total"))
        #expect(try Self.selection("payload.order.currency.upperAscii()") == Self.path("order", "currency"))
        #expect(try Self.selection("payload['order']['id']") == Self.path("order", "id"))
        #expect(try Self.selection("payload.?order.id") == Self.path("order", "id"))
    }

    @Test("has() reads presence only; several uses are merged")
    func presenceAndUnion() throws {
        var expected = Self.path("a", "b", whole: false)
        expected.formUnion(Self.path("c", "d"))
        #expect(try Self.selection("has(payload.a.b) && payload.c.d == 1") == expected)
        #expect(try Self.selection("has(payload.a) ? payload.a.x : 0") == Self.path("a", "x"))
        #expect(try Self.selection("1 + 2") == CELSelection())
    }

    @Test("any other use reads the value whole")
    func wholeUses() throws {
        for source in [
            "payload", "size(payload) > 0", "payload[record.key]", "payload.items.exists(i, i.sku == 'x')",
            "[1].map(payload, payload + 1) == [2]", "cel.bind(payload, 1, payload) == 1",
        ] {
            let selection = try Self.selection(source)
            if source.hasPrefix("payload.items") {
                #expect(selection == Self.path("items"), "\(source)")
            } else {
                #expect(selection.isWhole, "\(source)")
            }
        }
    }
}
