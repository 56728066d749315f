/// The life of a message in the outbox (SPEC §4).
public enum MessageState: String, Sendable, CaseIterable, Codable {
    /// Accepted and durable, waiting for its first attempt.
    case queued
    /// Claimed by a delivery worker.
    case sending
    /// An attempt failed temporarily; waiting for `next_attempt_at`.
    case deferred
    /// Every recipient was accepted by the relay.
    case sent
    /// Nothing is pending and at least one recipient failed for good (or the message expired).
    case failed
    /// Cancelled by an operator before it was sent.
    case cancelled

    /// States in which the message will still be delivered.
    public var isPending: Bool { self == .queued || self == .deferred || self == .sending }
    /// States the retention sweep may delete.
    public var isFinal: Bool { self == .sent || self == .failed || self == .cancelled }
}

/// The state of one recipient of a message.
public enum RecipientState: String, Sendable, CaseIterable {
    /// Not attempted yet.
    case pending
    /// Attempted; the relay answered with a temporary failure (or the attempt failed as a whole).
    case deferred
    /// Accepted by the relay (2xx to the final dot).
    case delivered
    /// Refused for good (5xx), or expired at `max_age`.
    case failed
    /// Never to be sent to: the message was cancelled first.
    case cancelled

    /// The recipient still has to be sent to.
    public var isPending: Bool { self == .pending || self == .deferred }
}
