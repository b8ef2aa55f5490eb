import CRdKafka

// MARK: - Test hooks

extension KafkaConsumer {
    /// Raises a fatal error in librdkafka, as a real one (e.g. a static member fenced by a newer instance) would
    /// be raised: the ``messages`` stream then throws it. For tests of what follows a fatal error only; librdkafka
    /// prefixes `reason` with `test_fatal_error: `.
    /// - Parameter reason: what the error says happened.
    /// - Throws: ``KafkaError`` when the consumer is closed or a fatal error was raised already.
    package func raiseFatalErrorForTesting(_ reason: String) throws(KafkaError) {
        try withHandle { rk throws(KafkaError) in
            let error = rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR__FENCED, reason)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError.rdKafka(error, "could not raise a test fatal error")
            }
        }
    }
}
