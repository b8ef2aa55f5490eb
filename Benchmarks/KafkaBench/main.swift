// KafkaBench: raw consume throughput of KafkaConsumer (see scripts/bench.d/10-kafka and docs/benchmarks.md).
//
//   KafkaBench consume BROKERS TOPIC COUNT
//
// Joins a fresh consumer group, reads COUNT records from the start of TOPIC and prints records/s, measured from
// the first record received to the COUNT-th (group join excluded). Prints `RATE swift <records/s>` last.
import KafkaClient
import Logging

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 5, arguments[1] == "consume", let count = Int(arguments[4]), count > 0 else {
    print("usage: KafkaBench consume BROKERS TOPIC COUNT")
    exit(2)
}
let brokers = arguments[2].split(separator: ",").map(String.init)
let topic = arguments[3]

var logger = Logger(label: "KafkaBench")
logger.logLevel = .warning
var configuration = KafkaConsumerConfiguration(
    bootstrapServers: brokers,
    groupID: "bench.swift.\(UInt32.random(in: 0...UInt32.max))",
    topics: [topic]
)
configuration.sessionTimeout = .seconds(6)
let consumer = try KafkaConsumer(configuration: configuration, logger: logger)

let clock = ContinuousClock()
var received = 0
var bytes = 0
var first: ContinuousClock.Instant?
for try await message in consumer.messages {
    if first == nil { first = clock.now }
    received += 1
    bytes += message.value.count
    if received == count { break }
}
let elapsed = first.map { clock.now - $0 } ?? .zero
await consumer.close()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let rate = seconds > 0 ? Double(received) / seconds : 0
print(
    "swift KafkaConsumer: \(received) records (\(bytes / 1_000_000) MB of values) in \((seconds * 1000).rounded() / 1000) s"
)
print("RATE swift \(Int(rate))")
