import Foundation
import Synchronization

/// Certificates made by the repository's own Scripts/make-dev-certs (openssl), once per test process:
/// a CA with n1, n2 and peer certificates, and a second, foreign CA.
enum DevCertificates {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder of a cluster's certificates (made on first use).
    static let cluster: String = Self.make("cluster")
    /// Another CA's certificates: what a stranger would present.
    static let foreign: String = Self.make("foreign")
    /// The cluster's CA again, its node certificates naming only DNS n1.internal (no IP).
    static let named: String = Self.make("named", sans: "DNS:n1.internal")

    /// The folders made (tests run in parallel: behind a lock), removed when the test process exits.
    private static let made = Mutex<[String]>([])

    private static func make(_ name: String, sans: String? = nil) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embtls-\(getpid())-\(name)").path
        let first = Self.made.withLock { made in
            made.append(dir)
            return made.count == 1
        }
        if first { atexit { for dir in DevCertificates.made.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: dir) } } }
        let p = Process()
        p.executableURL = Self.root.appendingPathComponent("Scripts/make-dev-certs")
        p.arguments = [dir, "n1", "n2"]
        if let sans {
            // Same CA as `cluster`: copied in first, so make-dev-certs issues from it.
            try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in ["ca.pem", "ca-key.pem"] { try! FileManager.default.copyItem(atPath: "\(Self.cluster)/\(f)", toPath: "\(dir)/\(f)") }
            p.environment = ProcessInfo.processInfo.environment.merging(["SANS": sans]) { $1 }
        }
        p.standardError = FileHandle.nullDevice
        try! p.run()
        p.waitUntilExit()
        precondition(p.terminationStatus == 0, "Scripts/make-dev-certs failed")
        return dir
    }
}
