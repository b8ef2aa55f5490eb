import Synchronization
import Testing

@testable import Relay

@Suite("RelayMetrics handle cache")
struct RelayMetricsCacheTests {
    /// Stands in for a metric handle: an object whose identity shows whether it was reused.
    final class Handle: Sendable {
        let label: String
        init(label: String) { self.label = label }
    }

    @Test("each label set gets one handle, made once and reused, also under concurrent use")
    func reuse() async {
        let made = Mutex<[String]>([])
        let cache = RelayMetrics.HandleCache<String, Handle> { topic in
            made.withLock { $0.append(topic) }
            return Handle(label: topic)
        }
        let topics = ["billing.stripe", "app.lifecycle", "app.orders"]
        let seen = await withTaskGroup(of: [ObjectIdentifier].self) { group in
            for task in 0..<8 {
                group.addTask {
                    (0..<300).map { index in ObjectIdentifier(cache[topics[(index + task) % topics.count]]) }
                }
            }
            return await group.reduce(into: Set<ObjectIdentifier>()) { $0.formUnion($1) }
        }
        #expect(seen.count == topics.count)
        #expect(topics.allSatisfy { cache[$0].label == $0 })
        // A handle made by a racing first use is dropped, never handed out: every caller saw one per topic.
        #expect(Set(made.withLock { $0 }) == Set(topics))
    }

    @Test("a series without labels is made on first use only")
    func lazy() {
        let made = Mutex(0)
        let series = RelayMetrics.LazyHandle<Handle> {
            made.withLock { $0 += 1 }
            return Handle(label: "request_duration_seconds")
        }
        #expect(made.withLock { $0 } == 0)
        let first = series.handle
        #expect(series.handle === first)
        #expect(made.withLock { $0 } == 1)
    }
}
