import Testing

/// Every test against real relay.py processes. Serialized (recursively, for the nested suites):
/// two cores are shared, a few tests measure short timeouts, and the descriptor-leak test counts
/// this process's sockets.
@Suite("Integration against relay.py", .serialized)
struct IntegrationTests {}
