// PEM: RFC 7468 text encoding of DER documents, written exactly as OpenSSL writes it.

/// PEM encoding and decoding.
public enum PEM {
    /// `-----BEGIN type-----\n`, Base64 in 64-column lines, `-----END type-----\n` (OpenSSL's layout, with
    /// the final newline), so that digests of PEM text match other tools.
    public static func encode(type: String, der: [UInt8]) -> String {
        let body = Base64.encode(der)
        var out = "-----BEGIN \(type)-----\n"
        var index = body.startIndex
        while index < body.endIndex {
            let end = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            out += body[index..<end] + "\n"
            index = end
        }
        out += "-----END \(type)-----\n"
        return out
    }

    /// Every PEM block in `text`, in order, as (type, DER bytes). Text outside blocks is ignored.
    public static func decodeAll(_ text: String, context: String) throws -> [(type: String, der: [UInt8])] {
        var blocks: [(String, [UInt8])] = []
        var currentType: String?
        var body = ""
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.trimming(" \t\r")
            if let type = currentType {
                if line == "-----END \(type)-----" {
                    guard let der = Base64.decode(body), !der.isEmpty else {
                        throw MLSecError.malformed("\(context): the \(type) block is not valid Base64")
                    }
                    blocks.append((type, der))
                    currentType = nil
                    body = ""
                } else if line.hasPrefix("-----") {
                    throw MLSecError.malformed("\(context): unterminated \(type) block")
                } else if line.contains(":") {
                    throw MLSecError.unsupported(
                        "\(context): encrypted or annotated PEM is not supported; decrypt the key first "
                            + "(openssl pkey -in KEY -out PLAIN)")
                } else {
                    body += line
                    guard body.utf8.count <= 1 << 20 else {
                        throw MLSecError.limitExceeded("\(context): PEM block over 1 MiB")
                    }
                }
            } else if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                currentType = String(line.dropFirst(11).dropLast(5))
            }
        }
        if let type = currentType { throw MLSecError.malformed("\(context): unterminated \(type) block") }
        return blocks
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters that appear in `set`.
    public func trimming(_ set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
