// MARK: - DeliveryOrdering

/// Which records are delivered in offset order (`delivery.ordering`, SPEC.md §6).
public enum DeliveryOrdering: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Records of one partition with the same key are delivered in offset order; other keys proceed in
    /// parallel. Records without a key are ordered with every other keyless record of their partition.
    case key
    /// All records of one partition are delivered in offset order, one at a time.
    case partition
    /// No ordering: every record may be delivered as soon as there is room.
    case none

    public var description: String { rawValue }

    /// The lane a record waits in: records of one lane are started one at a time, in submission order.
    func lane(partition: PartitionID, key: [UInt8]?) -> DispatchLane? {
        switch self {
        case .none:
            return nil
        case .partition:
            return .partition(partition)
        case .key:
            guard let key else { return .partition(partition) }
            return .key(partition, key)
        }
    }
}

/// The ordering lane of a record in ``KeyedDispatcher``.
enum DispatchLane: Sendable, Hashable {
    /// Every keyless record of a partition (ordering `key`), or every record of it (ordering `partition`).
    case partition(PartitionID)
    /// Records of one partition with the same key.
    case key(PartitionID, [UInt8])

    /// Hashes key bytes in one go (an array's own hashing combines byte by byte), and of the topic only its length:
    /// a lane is looked up several times per event, and a relay reads few topics (equality compares the names).
    func hash(into hasher: inout Hasher) {
        switch self {
        case .partition(let partition):
            hasher.combine(0 as UInt8)
            hasher.combine(partition.topic.utf8.count)
            hasher.combine(partition.partition)
        case .key(let partition, let key):
            hasher.combine(1 as UInt8)
            hasher.combine(partition.topic.utf8.count)
            hasher.combine(partition.partition)
            hasher.combine(key.count)
            key.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    var partition: PartitionID {
        switch self {
        case .partition(let partition), .key(let partition, _): partition
        }
    }
}
