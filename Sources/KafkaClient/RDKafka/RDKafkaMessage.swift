import CRdKafka

extension KafkaConsumerMessage {
    /// Copies a librdkafka message (which must not carry an error) into Swift values.
    init(_ message: UnsafePointer<rd_kafka_message_t>, topic: String) {
        var key: [UInt8]?
        if let pointer = message.pointee.key {
            key = Array(UnsafeRawBufferPointer(start: pointer, count: message.pointee.key_len))
        }
        var value: [UInt8] = []
        if let pointer = message.pointee.payload {
            value = Array(UnsafeRawBufferPointer(start: pointer, count: message.pointee.len))
        }
        var headers: [KafkaHeader] = []
        var rawHeaders: OpaquePointer?
        if rd_kafka_message_headers(message, &rawHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let rawHeaders {
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(rawHeaders, index, &name, &headerValue, &size)
                == RD_KAFKA_RESP_ERR_NO_ERROR
            {
                let bytes = headerValue.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        self.init(
            topic: topic,
            partition: message.pointee.partition,
            offset: message.pointee.offset,
            key: key,
            value: value,
            headers: headers,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp
        )
    }
}
