/// When a deferred message is tried again, and when it is given up (SPEC §2.1 `[retry]`, §4).
public struct RetryPolicy: Sendable, Equatable {
    /// Seconds before the first retry; doubles with each attempt.
    public var minDelay: Int
    /// Cap of the delay, seconds.
    public var maxDelay: Int
    /// Seconds after enqueue when a still undelivered message fails.
    public var maxAge: Int

    public init(minDelay: Int = 30, maxDelay: Int = 3600, maxAge: Int = 432_000) {
        self.minDelay = minDelay
        self.maxDelay = maxDelay
        self.maxAge = maxAge
    }

    /// The delay after the `attempt`-th failed attempt (1-based): min_delay · 2^(attempt-1), capped
    /// at max_delay, then spread by `jitter` (a factor in about 0.9...1.1, so that messages deferred
    /// together do not come back together).
    public func delay(afterAttempt attempt: Int, jitter: Double = 1) -> Double {
        let exponent = min(max(attempt - 1, 0), 30)
        let base = min(Double(minDelay) * Double(1 << exponent), Double(maxDelay))
        return max(1, base * jitter)
    }

    /// The time of the next attempt after a temporary failure at `now`, or nil when the message has
    /// reached `max_age` and must fail. The last retry is never scheduled later than max_age.
    public func nextAttempt(after attempt: Int, createdAt: Timestamp, now: Timestamp, jitter: Double = 1)
        -> Timestamp?
    {
        let expiry = createdAt.adding(seconds: Double(maxAge))
        if now >= expiry { return nil }
        let next = now.adding(seconds: delay(afterAttempt: attempt, jitter: jitter))
        return min(next, expiry)
    }
}

/// What an attempt's result means for the message as a whole (SPEC §4): its new state, and when
/// deferred, its next attempt.
public struct MessageVerdict: Sendable, Equatable {
    public var state: MessageState
    public var nextAttemptAt: Timestamp?
    /// The message-level error shown as `last_error`.
    public var lastError: String?
    /// Recipients that were pending and expired with the message.
    public var expired: Bool

    /// Decides the message's state from the recipients' states after an attempt.
    /// - Parameters:
    ///   - recipientStates: every recipient's state after this attempt's dispositions were applied.
    public static func decide(
        recipientStates: [RecipientState], result: DeliveryResult, attempt: Int, createdAt: Timestamp,
        now: Timestamp, policy: RetryPolicy, jitter: Double
    ) -> MessageVerdict {
        let firstProblem =
            result.error
            ?? result.recipients.first(where: {
                if case .delivered = $0.disposition { return false } else { return true }
            })?.disposition.reply
        if recipientStates.contains(where: \.isPending) {
            // What keeps it waiting: a recipient's temporary failure, rather than another's 5xx.
            let deferral =
                result.error
                ?? result.recipients.first(where: {
                    if case .deferred = $0.disposition { return true } else { return false }
                })?.disposition.reply ?? firstProblem
            if let next = policy.nextAttempt(after: attempt, createdAt: createdAt, now: now, jitter: jitter) {
                return MessageVerdict(state: .deferred, nextAttemptAt: next, lastError: deferral, expired: false)
            }
            let reason = "expired after \(policy.maxAge) s without delivery; last error: \(deferral ?? "none")"
            return MessageVerdict(state: .failed, nextAttemptAt: nil, lastError: reason, expired: true)
        }
        if recipientStates.allSatisfy({ $0 == .delivered }) {
            return MessageVerdict(state: .sent, nextAttemptAt: nil, lastError: nil, expired: false)
        }
        return MessageVerdict(state: .failed, nextAttemptAt: nil, lastError: firstProblem, expired: false)
    }
}
