// Duplicate suppression for concurrent misses (groupcache's singleflight, async): while a key's work
// is in flight, later callers for the same key wait for its result instead of starting their own.
// The first caller's work runs in its own unstructured Task, so a waiter that is cancelled leaves the
// shared work running for the others. The key is forgotten when the work ends: a later call runs again.
import Synchronization

/// Runs work once per key among concurrent callers.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let inFlight = Mutex<[Key: Task<Value, any Error>]>([:])

    /// An empty group.
    public init() {}

    /// Runs `work` for `key` unless it is already running, and returns its value; `shared` tells
    /// whether this caller waited for another's flight.
    public func run(_ key: Key, _ work: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, shared: Bool) {
        let (task, shared) = self.inFlight.withLock { flights -> (Task<Value, any Error>, Bool) in
            if let task = flights[key] { return (task, true) }
            let task = Task<Value, any Error> {
                defer { _ = self.inFlight.withLock { $0.removeValue(forKey: key) } }
                return try await work()
            }
            flights[key] = task
            return (task, false)
        }
        return (try await task.value, shared)
    }

    /// Keys currently in flight.
    public var inFlightCount: Int { self.inFlight.withLock { $0.count } }
}
