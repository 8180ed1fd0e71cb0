// Errors of loading a vocabulary. (Encoding never fails: every valid UTF-8 text has token ids.)

/// Why a vocabulary could not be loaded.
public struct TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The kind of failure, for tests.
    public enum Code: String, Sendable {
        /// The vocabulary file is missing or unreadable.
        case missingFile
        /// The vocabulary is empty, too large, or lacks a special token.
        case badVocabulary
    }

    /// What went wrong.
    public var code: Code
    /// A sentence for people.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
