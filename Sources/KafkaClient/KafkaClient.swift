// KafkaClient: the Swift face of librdkafka.
