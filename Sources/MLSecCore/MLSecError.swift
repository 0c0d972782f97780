// MLSecError: the one error type every MLSec library throws.

/// An error raised by an MLSec library.
///
/// Errors carry a ``Code`` that a program can switch on, a message written for the person running the
/// tool (it says what went wrong, where, and what to do next), and the location that raised it. Messages
/// never contain key material, tokens or the raw contents of user data.
public struct MLSecError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is. Equality of errors considers only the code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The caller passed an argument that cannot work (bad option combination, bad value).
        public static let usage = Code("usage")
        /// A file or stream could not be read or written.
        public static let io = Code("io")
        /// Input from a file, a request or a peer is not well formed.
        public static let malformed = Code("malformed")
        /// Input is well formed but uses something MLSec does not support.
        public static let unsupported = Code("unsupported")
        /// Input exceeds a configured size, count or depth limit.
        public static let limitExceeded = Code("limit-exceeded")
        /// A key could not be parsed or is of the wrong kind.
        public static let invalidKey = Code("invalid-key")
        /// A cryptographic check failed: the thing verified is not what was signed.
        public static let verificationFailed = Code("verification-failed")
        /// A file already exists and overwriting was not requested.
        public static let alreadyExists = Code("already-exists")
        /// The model tree contains something that cannot be signed safely (special file, escaping link).
        public static let unsafeTree = Code("unsafe-tree")
    }

    public var code: Code
    public var message: String
    public var fileID: String
    public var line: Int

    public init(_ code: Code, _ message: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.fileID = fileID
        self.line = line
    }

    public var description: String { message }

    public static func == (lhs: MLSecError, rhs: MLSecError) -> Bool { lhs.code == rhs.code }

    public static func usage(_ message: String, fileID: String = #fileID, line: Int = #line) -> MLSecError {
        MLSecError(.usage, message, fileID: fileID, line: line)
    }
    public static func io(_ message: String, fileID: String = #fileID, line: Int = #line) -> MLSecError {
        MLSecError(.io, message, fileID: fileID, line: line)
    }
    public static func malformed(_ message: String, fileID: String = #fileID, line: Int = #line) -> MLSecError {
        MLSecError(.malformed, message, fileID: fileID, line: line)
    }
    public static func unsupported(_ message: String, fileID: String = #fileID, line: Int = #line) -> MLSecError {
        MLSecError(.unsupported, message, fileID: fileID, line: line)
    }
    public static func limitExceeded(_ message: String, fileID: String = #fileID, line: Int = #line) -> MLSecError {
        MLSecError(.limitExceeded, message, fileID: fileID, line: line)
    }
    public static func invalidKey(_ message: String, fileID: String = #fileID, line: Int = #line) -> MLSecError {
        MLSecError(.invalidKey, message, fileID: fileID, line: line)
    }
    public static func verificationFailed(_ message: String, fileID: String = #fileID, line: Int = #line)
        -> MLSecError
    {
        MLSecError(.verificationFailed, message, fileID: fileID, line: line)
    }
}
