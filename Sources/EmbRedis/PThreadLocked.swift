// A value behind a pthread mutex, with `Mutex`'s `withLock` shape. RedisL2's state is shared by the
// caller's tasks and four threads of its own; `Synchronization.Mutex` would do, but on Linux it is a
// futex inside the precompiled standard library, which ThreadSanitizer cannot see, so every
// critical section showed up as a data race (Scripts/sanitize thread, Docs/reliability.md).
// pthread_mutex_lock is intercepted by TSan, so real races stay visible and these do not. Uncontended,
// it costs the same few nanoseconds.
import Glibc

/// `Mutex<Value>` on a pthread mutex (see the file comment). Sendable: the mutex guards `value`.
final class PThreadLocked<Value>: @unchecked Sendable {
    private var value: Value  // guarded by mutex
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(_ value: Value) {
        self.value = value
        self.mutex = .allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(self.mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deinitialize(count: 1)
        self.mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }
}
