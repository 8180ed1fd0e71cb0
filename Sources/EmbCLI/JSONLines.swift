// Reading the CLI's JSONL input ({"text": "..."} per line) and writing its output lines.
import Foundation

enum JSONLines {
    /// The texts of a JSONL file, in order. Blank lines are skipped; any other bad line is an error
    /// naming its line number.
    static func texts(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationErrorMessage("cannot read \(path)")
        }
        var texts: [String] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let text = object["text"] as? String
            else {
                throw ValidationErrorMessage("\(path):\(n + 1): expected a JSON object with a string \"text\"")
            }
            texts.append(text)
        }
        return texts
    }

    /// `[1,2,3]` for ids.
    static func array(_ ids: [Int32]) -> String {
        "[" + ids.map(String.init).joined(separator: ",") + "]"
    }

    /// Floats printed with 9 significant digits, enough to round-trip a float32 exactly.
    static func array(_ values: [Float]) -> String {
        "[" + values.map { String(format: "%.9g", Double($0)) }.joined(separator: ",") + "]"
    }
}

/// A user-facing error with a plain message (ArgumentParser prints it and exits non-zero).
struct ValidationErrorMessage: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { self.description = message }
}

/// Buffered standard output: one write per ~64 KiB rather than per line.
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func line(_ s: String) {
        self.buffer.append(contentsOf: s.utf8)
        self.buffer.append(UInt8(ascii: "\n"))
        if self.buffer.count >= 1 << 16 { self.flush() }
    }

    mutating func flush() {
        self.buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { break }  // a closed pipe: nothing more to do
                offset += n
            }
        }
        self.buffer.removeAll(keepingCapacity: true)
    }
}
