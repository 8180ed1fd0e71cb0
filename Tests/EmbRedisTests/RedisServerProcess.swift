// A real redis-server for a test: started on a free loopback port, stopped by PID.
import Foundation
import Synchronization

final class RedisServerProcess {
    let port: Int
    private var process: Process?
    /// More redis-server arguments (`--requirepass`, `--user`), and the login redis-cli uses then.
    let extraArguments: [String]
    let cliLogin: [String]

    /// Starts redis-server on `port` (a free one if nil) and waits (≤ 5 s) until it answers PING.
    init(port: Int? = nil, extraArguments: [String] = [], cliLogin: [String] = []) throws {
        self.port = port ?? Self.freePort()
        self.extraArguments = extraArguments
        self.cliLogin = cliLogin
        try self.start()
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"] + self.extraArguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        self.process = p
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && p.isRunning {
            // A PONG while our process runs: a redis-server that could not bind exits (another one
            // answering on the port would otherwise pass for ours).
            if self.cli(["PING"]) == "PONG" && p.isRunning { return }
            usleep(20_000)
        }
        self.stop()
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "redis-server did not answer on port \(self.port)"])
    }

    /// SIGKILL (a crash, not a clean shutdown) and wait for the PID to be gone.
    func stop() {
        guard let p = self.process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        self.process = nil
    }

    deinit { self.stop() }

    /// redis-cli's output for a command (trimmed), for checks from outside our client.
    func cli(_ args: [String]) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        p.arguments = ["-p", "\(self.port)", "--no-auth-warning"] + self.cliLogin + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static var binary: String {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "redis-server"
    }

    /// Ports this test process was handed: the kernel may give a just-closed port out again, and two
    /// servers of one test on one port would be one server.
    private static let handedOut = Mutex<Set<Int>>([])

    static func freePort() -> Int {
        for _ in 0..<1000 {
            let port = Self.kernelFreePort()
            let fresh = Self.handedOut.withLock { $0.insert(port).inserted }
            if fresh { return port }
        }
        return Self.kernelFreePort()
    }

    private static func kernelFreePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
