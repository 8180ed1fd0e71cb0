// AUTH on RESP, and the judging of a password (AUTH and HELLO … AUTH): in constant time against the
// cluster secret (`Secret.matches`), after the delay the client's address has earned (AuthThrottle).
// While an attempt waits, the connection is paused: it reads nothing and runs nothing after the
// AUTH, so a pipeline of guesses is judged one delay apart, and the event loop never sleeps (the
// wait is a scheduled task). The user name is accepted and ignored: the secret is the credential.
import EmbRESP
import NIOCore

extension RESPConnectionHandler {
    static let wrongPassword = RESPConnectionHandler.error("WRONGPASS invalid username-password pair or user is disabled.")
    static let noPasswordConfigured = RESPConnectionHandler.error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")

    /// AUTH [user] password.
    func auth(_ args: [ByteBuffer], sequence: Int, context: ChannelHandlerContext) {
        guard args.count == 1 || args.count == 2 else { return self.complete(sequence, Self.arity("AUTH")) }
        guard self.server.secret != nil else { return self.complete(sequence, Self.noPasswordConfigured) }
        self.authenticate(args[args.count - 1], sequence: sequence, context: context) { _, ok in ok ? Self.ok() : Self.wrongPassword }
    }

    /// Judges `password` now, or after the throttle's delay with the connection paused, then
    /// completes `sequence` with `reply(handler, accepted)`. A right password authenticates the connection.
    func authenticate(_ password: ByteBuffer, sequence: Int, context: ChannelHandlerContext,
                      reply: @escaping (RESPConnectionHandler, Bool) -> ByteBuffer) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let throttle = self.server.authThrottle
        switch throttle.verdict(for: address) {
        case .now:
            self.complete(sequence, reply(self, self.judge(password, address: address)))
        case .refuse:
            self.server.metrics.authFailure("resp")
            self.closeAfterReply(sequence)
            self.complete(sequence, Self.error("ERR too many failed AUTH attempts from this address; try again later"))
        case .after(let seconds):
            self.authPaused = true
            self.updateReading(context)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
                let (handler, context) = bound.value
                handler.authPaused = false
                handler.complete(sequence, reply(handler, handler.judge(password, address: address)))
                handler.flush(context: context)
                handler.resumeReading(context)
            }
        }
    }

    /// Compares in constant time; counts a failure against `address`.
    private func judge(_ password: ByteBuffer, address: String) -> Bool {
        guard let secret = self.server.secret else { return false }
        if secret.matches(password.readableBytesView) {
            self.authenticated = true
            return true
        }
        self.server.authThrottle.recordFailure(address)
        self.server.metrics.authFailure("resp")
        return false
    }
}
