import CEL

extension RuleSet {
    /// Maps one record to events: every rule whose topics include the record's topic and whose `match` is true
    /// emits one event, in rule order.
    ///
    /// - Parameters:
    ///   - record: the record as consumed.
    ///   - onlyRule: re-runs only this rule (a retried record); other rules are ignored.
    /// - Returns: the outcome; this never throws and no expression error escapes.
    public func apply(_ record: SourceRecord, onlyRule: String? = nil) -> RecordOutcome {
        // Headers count too: a record with thousands of them costs as much as a large value.
        let size = record.headers.reduce(record.value.count + (record.key?.count ?? 0)) {
            $0 + $1.name.utf8.count + $1.value.count
        }
        if size > options.maximumRecordBytes {
            return .failed(
                RulesError(
                    code: .recordTooLarge,
                    message: "record \(record.topic)/\(record.partition)@\(record.offset) is \(size) bytes, over "
                        + "max_record_bytes (\(options.maximumRecordBytes)); raise kafka.max_record_bytes or shrink the event"
                )
            )
        }
        let topicRules = topicRules(record.topic)
        var indexes = topicRules.indexes
        if let onlyRule { indexes = indexes.filter { rules[$0].name == onlyRule } }
        if indexes.isEmpty { return .skipped }
        let decoded: DecodedRecord
        do {
            decoded = try decoder.decode(
                record, projection: topicRules.projection, buildsRecord: topicRules.readsRecord)
        } catch {
            return .failed(error)
        }
        var results: [RuleResult] = []
        for index in indexes {
            let rule = rules[index]
            do {
                if let event = try evaluate(rule, decoded, record) {
                    results.append(RuleResult(rule: rule.name, result: .success(event)))
                }
            } catch {
                results.append(RuleResult(rule: rule.name, result: .failure(error)))
            }
        }
        return results.isEmpty ? .skipped : .results(results)
    }

    /// Runs one rule; nil when its `match` is false.
    func evaluate(
        _ rule: CompiledRule, _ decoded: DecodedRecord, _ record: SourceRecord
    ) throws(RulesError)
        -> MappedEvent?
    {
        func mapping(_ field: String, _ error: CELError) -> RulesError {
            RulesError(
                code: .mapping,
                message: "rule '\(rule.name)' field '\(field)': \(error.message)",
                rule: rule.name,
                field: field
            )
        }
        // One evaluation state for the match, the variables and the fields, holding only what they read.
        var variables: [(String, CELValue)] = [("payload", decoded.payload)]
        if rule.reads.record { variables.append(("record", decoded.record)) }
        if rule.reads.ce { variables.append(("ce", decoded.ce)) }
        if rule.reads.variables { variables.append(("variables", .map(CELMap()))) }
        let scope = CELEvaluationScope(variables: variables)
        if let match = rule.match {
            let value: CELValue
            do {
                value = try match.evaluate(in: scope)
            } catch {
                throw mapping("match", error)
            }
            switch value {
            case .bool(true): break
            case .bool(false): return nil
            default:
                throw RulesError(
                    code: .mapping,
                    message: "rule '\(rule.name)' field 'match': must be a bool, got \(EventValidator.describe(value))",
                    rule: rule.name,
                    field: "match"
                )
            }
        }
        if !rule.variables.isEmpty {
            var entries: [(String, CELValue)] = []
            entries.reserveCapacity(rule.variables.count)
            for variable in rule.variables {
                do {
                    entries.append((variable.name, try variable.program.evaluate(in: scope)))
                } catch {
                    throw mapping("variables.\(variable.name)", error)
                }
                scope.set("variables", to: .map(CELMap(entries)))
            }
        }
        // An event rule's fields set event fields; a refund rule's do not.
        var eventFields: [(EventField, CELValue)] = []
        var refundFields: [(String, CELValue)] = []
        if rule.isRefund {
            refundFields.reserveCapacity(rule.fields.count)
        } else {
            eventFields.reserveCapacity(rule.fields.count + 1)
        }
        for field in rule.fields {
            var value: CELValue
            do {
                value = try field.program.evaluate(in: scope)
            } catch {
                throw mapping(field.written, error)
            }
            while case .optional(let wrapped) = value {
                guard let wrapped else {
                    value = .null
                    break
                }
                value = wrapped
            }
            if case .null = value { continue }
            if let event = field.event {
                eventFields.append((event, value))
            } else {
                refundFields.append((field.key, value))
            }
        }
        if rule.isRefund {
            return try refund(rule, refundFields, record)
        }
        let validated = try EventValidator.validate(
            eventFields, .init(rule: rule.name, topic: record.topic, partition: record.partition, offset: record.offset)
        )
        let sorted = validated.fields
        var writer = JSONWriter()
        writer.writeEvent(sorted)
        return MappedEvent(
            rule: rule.name,
            eventType: validated.eventType,
            eventName: validated.eventName,
            externalEventID: validated.externalEventID,
            sortedFields: sorted.map { ($0.0.key, $0.1) },
            body: writer.bytes
        )
    }

    /// A refund rule's validated fields as a refund: `body` is the request body of
    /// `POST /v1/conversions/{id}/refund`.
    private func refund(
        _ rule: CompiledRule,
        _ fields: [(String, CELValue)],
        _ record: SourceRecord
    ) throws(RulesError) -> MappedEvent {
        let origin = EventValidator.Context(
            rule: rule.name, topic: record.topic, partition: record.partition, offset: record.offset)
        let validated = try RefundValidator.validate(fields, .init(origin: origin, recordTimestamp: record.timestamp))
        let sorted = JSONWriter.sortedFields(validated.body)
        var writer = JSONWriter()
        writer.writeSortedObject(sorted)
        return MappedEvent(
            rule: rule.name,
            eventType: "refund",
            eventName: "refund",
            externalEventID: validated.externalEventID,
            sortedFields: sorted,
            body: writer.bytes,
            refund: .init(conversionExternalEventID: validated.conversion)
        )
    }
}
