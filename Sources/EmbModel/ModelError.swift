// Errors of model loading and encoding. Each has a code tests match on and a message a person can act on.

/// Why a model could not be loaded or run.
public struct ModelError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, for tests and metrics.
    public enum Code: String, Sendable {
        /// The model folder or one of its files is missing.
        case missingFile
        /// config.json is unreadable or incomplete.
        case badConfig
        /// The files describe a model the kernels do not support.
        case unsupportedModel
        /// The weights file is malformed (see the wrapped SafeTensorsError's message).
        case badWeights
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence saying what failed and how to fix it.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
