// MARK: - ConversionIndex

/// The Affonso id (`com_…`) of every remembered conversion, by the conversion's `external_event_id`: what a refund
/// needs to reach `POST /v1/conversions/{id}/refund`.
///
/// Built for a million conversions in a small pod: a key is kept as a 96-bit fingerprint (two hashes seeded at
/// random per process, so record values cannot be crafted to collide; two distinct keys among a million share a
/// fingerprint with a probability near 10⁻¹⁷), the ids as length-prefixed bytes in chunks of 1 MiB (no doubling
/// array to overshoot), in an open-addressing table of 16 bytes a slot, at most three quarters full. About 55 MB for
/// 1,000,000 conversions.
///
/// Inserting the same key again replaces its id (the compacted topic keeps the newest record for a key too).
struct ConversionIndex: Sendable {
    private struct Slot: Sendable {
        /// 0 = empty (a real fingerprint never has `high` 0: its top bit is set).
        var high: UInt64 = 0
        var low: UInt32 = 0
        /// Where the id starts: chunk index × 2²⁰ + position in the chunk.
        var offset: UInt32 = 0
    }

    private var slots: [Slot]
    /// Length-prefixed ids; every chunk is allocated at ``chunkSize`` bytes and never grows past it.
    private var chunks: [[UInt8]] = []
    private static let chunkSize = 1 << 20
    private let seeds: (UInt64, UInt64)
    /// How many distinct keys are remembered.
    private(set) var count = 0

    /// The longest id kept (longer ones are refused: Affonso ids are short).
    static let maximumIDLength = 255

    init(capacity: Int = 1024, seeds: (UInt64, UInt64) = (.random(in: 1...(.max)), .random(in: 1...(.max)))) {
        var size = 16
        while size * 3 / 4 < capacity { size *= 2 }
        slots = Array(repeating: Slot(), count: size)
        self.seeds = seeds
    }

    /// The bytes the index holds (table and ids), for the gauge.
    var memoryBytes: Int { slots.capacity * MemoryLayout<Slot>.stride + chunks.reduce(0) { $0 + $1.capacity } }

    /// Remembers `conversionID` for `externalEventID`.
    /// - Returns: false when the id is empty, too long, or the index is full (4 GiB of ids).
    @discardableResult
    mutating func insert(_ externalEventID: String, conversionID: String) -> Bool {
        let id = Array(conversionID.utf8)
        guard !id.isEmpty, id.count <= Self.maximumIDLength else { return false }
        if chunks.isEmpty || chunks[chunks.count - 1].count + id.count + 1 > Self.chunkSize {
            guard chunks.count < 4096 else { return false }
            chunks.append([])
            chunks[chunks.count - 1].reserveCapacity(Self.chunkSize)
        }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let (high, low) = fingerprint(externalEventID)
        let last = chunks.count - 1
        let offset = UInt32(last << 20 | chunks[last].count)
        chunks[last].append(UInt8(id.count))
        chunks[last].append(contentsOf: id)
        var index = Int(truncatingIfNeeded: high) & (slots.count - 1)
        while slots[index].high != 0 {
            if slots[index].high == high, slots[index].low == low {
                slots[index].offset = offset
                return true
            }
            index = (index + 1) & (slots.count - 1)
        }
        slots[index] = Slot(high: high, low: low, offset: offset)
        count += 1
        return true
    }

    /// The conversion's Affonso id, if remembered.
    func conversionID(for externalEventID: String) -> String? {
        let (high, low) = fingerprint(externalEventID)
        var index = Int(truncatingIfNeeded: high) & (slots.count - 1)
        while slots[index].high != 0 {
            if slots[index].high == high, slots[index].low == low {
                let chunk = chunks[Int(slots[index].offset >> 20)]
                let start = Int(slots[index].offset & (1 << 20 - 1))
                let length = Int(chunk[start])
                return String(decoding: chunk[(start + 1)..<(start + 1 + length)], as: UTF8.self)
            }
            index = (index + 1) & (slots.count - 1)
        }
        return nil
    }

    private func fingerprint(_ key: String) -> (UInt64, UInt32) {
        var first = Hasher()
        first.combine(seeds.0)
        first.combine(key)
        var second = Hasher()
        second.combine(seeds.1)
        second.combine(key)
        let high = UInt64(bitPattern: Int64(first.finalize())) | (1 << 63)
        return (high, UInt32(truncatingIfNeeded: second.finalize()))
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        for slot in old where slot.high != 0 {
            var index = Int(truncatingIfNeeded: slot.high) & (slots.count - 1)
            while slots[index].high != 0 { index = (index + 1) & (slots.count - 1) }
            slots[index] = slot
        }
    }
}
