import Synchronization

// MARK: - Handle cache

extension RelayMetrics {
    /// The metric handles of one series family, one per label set, made on first use and reused after.
    ///
    /// Creating a swift-metrics handle asks the factory (here the Prometheus registry: a lock, label validation
    /// and a lookup by name and labels) and allocates; the relay records several series per event, so it keeps
    /// the handles. A family has few label sets (topics, event types and rules, statuses, partitions).
    final class HandleCache<Key: Hashable & Sendable, Handle: Sendable>: Sendable {
        private let handles = Mutex<[Key: Handle]>([:])
        private let make: @Sendable (Key) -> Handle

        /// - Parameter make: creates the handle of a label set the first time it is used.
        init(_ make: @escaping @Sendable (Key) -> Handle) {
            self.make = make
        }

        /// The handle of `key`'s label set.
        subscript(key: Key) -> Handle {
            if let handle = handles.withLock({ $0[key] }) { return handle }
            let handle = make(key)
            return handles.withLock { handles in
                if let existing = handles[key] { return existing }
                handles[key] = handle
                return handle
            }
        }
    }

    /// A series without labels, made on first use (so that, like the labelled ones, it appears once it counts).
    final class LazyHandle<Handle: Sendable>: Sendable {
        private let cache: HandleCache<Bool, Handle>

        init(_ make: @escaping @Sendable () -> Handle) {
            self.cache = HandleCache { _ in make() }
        }

        var handle: Handle { cache[true] }
    }

    /// Two label values, as a cache key.
    struct LabelPair: Hashable, Sendable {
        var first: String
        var second: String
    }
}
