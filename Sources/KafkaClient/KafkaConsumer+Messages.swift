import CRdKafka

extension KafkaConsumer {
    /// The consumer's records as an `AsyncSequence` (see ``KafkaConsumer/messages``).
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = KafkaConsumerMessage
        public typealias Failure = any Error
        let consumer: KafkaConsumer

        public func makeAsyncIterator() -> Iterator { Iterator(consumer: consumer) }

        /// Iterates the consumer's buffer; suspends while it is empty.
        public struct Iterator: AsyncIteratorProtocol {
            let consumer: KafkaConsumer

            /// The next message, on the caller's executor (no hop per message); nil after ``KafkaConsumer/close()``.
            public mutating func next(
                isolation actor: isolated (any Actor)? = #isolation
            ) async throws -> KafkaConsumerMessage? {
                try await consumer.nextMessage(isolation: actor)
            }

            public mutating func next() async throws -> KafkaConsumerMessage? {
                try await consumer.nextMessage(isolation: nil)
            }
        }
    }

    private enum Take {
        case message(KafkaConsumerMessage)
        case end
        case failure(KafkaError)
        case wait
    }

    private func take(_ state: inout State) -> Take {
        let message = state.popDeliverable()
        if state.isPollerWaitingForRoom, state.buffer.count <= configuration.bufferCapacity / 2 {
            state.isPollerWaitingForRoom = false
            wakePollThread()
        }
        if let message { return .message(message) }
        switch state.lifecycle {
        case .running: return .wait
        case .closing, .closed: return .end
        case .failed(let error): return .failure(error)
        }
    }

    /// The next messages, up to `maximum`: waits for the first like ``messages`` does, then takes those already
    /// buffered behind it under the same lock, so a busy consumer hands records over in batches.
    /// - Returns: nil after ``close()``.
    /// - Throws: the consumer's fatal error, or `CancellationError`.
    public func nextBatch(
        maximum: Int, isolation actor: isolated (any Actor)? = #isolation
    ) async throws -> [KafkaConsumerMessage]? {
        guard let first = try await nextMessage(isolation: actor) else { return nil }
        var batch = [first]
        state.withLock { state in
            while batch.count < maximum, case .message(let message) = take(&state) { batch.append(message) }
        }
        return batch
    }

    func nextMessage(isolation actor: isolated (any Actor)?) async throws -> KafkaConsumerMessage? {
        switch state.withLock({ take(&$0) }) {
        case .message(let message): return message
        case .end: return nil
        case .failure(let error): throw error
        case .wait: break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: actor) { continuation in
                let result = state.withLock { state -> Take in
                    let result = take(&state)
                    if case .wait = result {
                        precondition(state.waiter == nil, "KafkaConsumer.messages must be iterated by one task only")
                        state.waiter = continuation
                    }
                    return result
                }
                switch result {
                case .message(let message): continuation.resume(returning: message)
                case .end: continuation.resume(returning: nil)
                case .failure(let error): continuation.resume(throwing: error)
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
