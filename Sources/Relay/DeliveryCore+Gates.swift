// MARK: - Gates

extension DeliveryCore {
    /// Why a job may send now.
    enum Turn: Sendable {
        case regular
        case outageProbe
        case credentialsProbe
    }

    /// What a request learnt about the API, for the outage detector and the credentials gate.
    enum Answer: Equatable {
        /// The API answered and accepted the key (2xx, 429, or a 4xx other than 401/403).
        case answered
        /// The API refused the key (401 or 403).
        case refusedKey(status: Int)
        /// No answer about the API: a 5xx, a timeout, a connection error.
        case unanswered
        /// The request was cancelled before it was answered.
        case abandoned
    }

    /// How the gates changed: what to log and whether fetching must be recomputed.
    struct GateChanges: Equatable {
        var outageStopped = false
        var outageResumed = false
        /// The status of a credentials fault that started now.
        var credentialsFaulted: Int?
        var credentialsResumed = false

        var pausesChanged: Bool {
            outageStopped || outageResumed || credentialsFaulted != nil || credentialsResumed
        }
    }

    /// Feeds one answer to the gates. Every answer to a probe moves its gate on: open again, or faulted with a
    /// next probe time, so no gate stays closed with nobody probing.
    mutating func record(_ answer: Answer, turn: Turn, now: ContinuousClock.Instant) -> GateChanges {
        var changes = GateChanges()
        switch (turn, answer) {
        case (.regular, .answered):
            _ = outage.record(.answered, now: now)
            changes.credentialsResumed = credentials.recordAuthorized() == .resumeFetching
        case (.regular, .refusedKey(let status)):
            changes.credentialsFaulted = credentials.recordFault(status: status, now: now) != nil ? status : nil
        case (.regular, .unanswered):
            changes.outageStopped = outage.record(.transientFailure, now: now) == .stopFetching
        case (.regular, .abandoned):
            break
        case (.outageProbe, .answered):
            changes.outageResumed = outage.recordProbe(.answered, now: now) == .resumeFetching
        case (.outageProbe, .refusedKey(let status)):
            // The API answers, so it is up; the key is the problem now.
            changes.outageResumed = outage.recordProbe(.answered, now: now) == .resumeFetching
            changes.credentialsFaulted = credentials.recordFault(status: status, now: now) != nil ? status : nil
        case (.outageProbe, .unanswered):
            _ = outage.recordProbe(.transientFailure, now: now)
        case (.outageProbe, .abandoned):
            outage.abandonProbe(now: now)
        case (.credentialsProbe, .answered):
            changes.credentialsResumed =
                credentials.recordProbe(authorized: true, now: now) == .resumeFetching
        case (.credentialsProbe, .refusedKey(let status)):
            _ = credentials.recordProbe(authorized: false, status: status, now: now)
        case (.credentialsProbe, .unanswered):
            credentials.recordProbeUnanswered(now: now)
            changes.outageStopped = outage.record(.transientFailure, now: now) == .stopFetching
        case (.credentialsProbe, .abandoned):
            credentials.abandonProbe(now: now)
        }
        return changes
    }

    /// Whether a request may be sent now, or which probe it is to send; otherwise how long to wait.
    mutating func turn(now: ContinuousClock.Instant) -> (turn: Turn?, wait: Duration) {
        if isDeliveryOpen { return (.regular, .zero) }
        if !credentials.isReady {
            if credentials.startProbeIfDue(now: now) { return (.credentialsProbe, .zero) }
            return (nil, credentials.nextProbeTime.map { $0 - now } ?? .seconds(1))
        }
        if outage.startProbeIfDue(now: now) { return (.outageProbe, .zero) }
        return (nil, outage.nextProbeTime.map { $0 - now } ?? .seconds(1))
    }

    /// Records an answer and adds what changed to `actions`.
    mutating func note(_ answer: Answer, _ turn: Turn, now: ContinuousClock.Instant, _ actions: inout Actions) {
        let changes = record(answer, turn: turn, now: now)
        guard changes != GateChanges() else { return }
        actions.notices.append(.gates(changes))
        if changes.pausesChanged { actions.reconcilePauses = true }
    }
}
