// ReadableError: errors described in words, for audit reasons, start-up errors and logs.

/// An error that can say what went wrong in a short phrase, where its `description` is a debug dump
/// (`HTTPClientError.connectTimeout`, `JWTKitError(errorType: ...)`) or says nothing on purpose (PostgresNIO's).
///
/// The libraries' errors conform where MLSec uses them (MLSecGateway: NIO, AsyncHTTPClient, NIOSSL, JWTKit;
/// MLSecStores: PostgresNIO), so that ``readable(_:limit:)`` describes them wherever it is called.
public protocol ReadableError: Error {
    /// What went wrong, in words ("connection refused", "TLS handshake failed: certificate verify failed").
    var readableDescription: String { get }
}

/// `error` in words on one line, for an audit reason, an error message or a log line: an ``MLSecError``'s
/// message, a ``ReadableError``'s description, and otherwise the error's type name and its description with
/// newlines and runs of spaces folded, cut to `limit` characters. An `MLSecError`'s message is returned as it is.
public func readable(_ error: any Error, limit: Int = 300) -> String {
    let text: String
    switch error {
    case let error as MLSecError:
        return error.message
    case let error as any ReadableError:
        text = error.readableDescription
    case is CancellationError:
        text = "cancelled"
    case let error as DecodingError:
        text = readable(decoding: error)
    default:
        let type = String(describing: Swift.type(of: error))
        let description = String(describing: error)
        text = description.hasPrefix(type) ? description : "\(type): \(description)"
    }
    return oneLine(text, limit: limit)
}

/// `text` without control characters (newlines become spaces), runs of spaces folded, cut to `limit` characters
/// (ending in "...").
func oneLine(_ text: String, limit: Int) -> String {
    var out = ""
    var count = 0
    var space = false
    for character in text {
        if character.isWhitespace || character.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            space = count > 0
            continue
        }
        if space {
            out.append(" ")
            count += 1
        }
        space = false
        out.append(character)
        count += 1
        if count > limit { return String(out.prefix(max(0, limit - 3))) + "..." }
    }
    return out
}

private func readable(decoding error: DecodingError) -> String {
    func path(_ context: DecodingError.Context, _ last: (any CodingKey)? = nil) -> String {
        let keys = context.codingPath + (last.map { [$0] } ?? [])
        return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context):
        return "the field \(path(context, key)) is missing"
    case .valueNotFound(_, let context):
        return "the field \(path(context)) is null"
    case .typeMismatch(let type, let context):
        return "the field \(path(context)) is not a \(type)"
    case .dataCorrupted(let context):
        let at = context.codingPath.isEmpty ? "" : " at \(path(context))"
        return "the data is not valid\(at): \(context.debugDescription)"
    @unknown default:
        return "the data cannot be decoded"
    }
}
