import CoreMetrics
import Prometheus

// MARK: - Prometheus

extension RelayMetrics {
    /// Routes every swift-metrics series of this process to a Prometheus registry. Call once, at start.
    /// - Returns: a function that renders the registry in the Prometheus text format, for `/metrics`.
    public static func bootstrapPrometheus() -> @Sendable () -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return {
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return buffer
        }
    }
}
