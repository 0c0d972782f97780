// AgeHeader: the text header of an age v1 file (version line, recipient stanzas, MAC) and its strict parser.

import Crypto
import Foundation
import MLSecCore

/// One recipient stanza: `-> type arg...` and a binary body.
public struct AgeStanza: Sendable, Equatable {
    public var type: String
    public var arguments: [String]
    public var body: [UInt8]

    public init(type: String, arguments: [String], body: [UInt8]) {
        self.type = type
        self.arguments = arguments
        self.body = body
    }

    /// The stanza's lines, each ending in a newline; the body wrapped at 64 columns and always ended by a
    /// line shorter than 64 (possibly empty).
    func encoded() -> [UInt8] {
        var out = Array("->".utf8)
        for word in [type] + arguments { out += Array(" \(word)".utf8) }
        out.append(0x0A)
        let text = Array(Base64.encodeUnpadded(body).utf8)
        var start = 0
        while text.count - start >= AgeHeader.columns {
            out += text[start..<(start + AgeHeader.columns)]
            out.append(0x0A)
            start += AgeHeader.columns
        }
        out += text[start...]
        out.append(0x0A)
        return out
    }
}

/// The parsed header of an age v1 file.
public struct AgeHeader: Sendable {
    static let versionLine = Array("age-encryption.org/v1".utf8)
    static let columns = 64
    /// Caps on hostile headers: far above any real file (a header is a few hundred bytes per recipient).
    public static let maxHeaderBytes = 1 << 20
    public static let maxStanzas = 4096

    public var stanzas: [AgeStanza]
    /// The header MAC as written in the file.
    public var mac: [UInt8]
    /// The bytes the MAC covers: from the version line through `---`.
    public var authenticatedBytes: [UInt8]

    /// Builds a header for `stanzas`, computing its MAC from `fileKey`.
    init(stanzas: [AgeStanza], fileKey: SymmetricKey) {
        self.stanzas = stanzas
        var bytes = Self.versionLine + [0x0A]
        for stanza in stanzas { bytes += stanza.encoded() }
        bytes += Array("---".utf8)
        authenticatedBytes = bytes
        mac = Self.computeMAC(bytes, fileKey: fileKey)
    }

    /// The header as written to a file, through the MAC line's newline.
    func encoded() -> [UInt8] {
        authenticatedBytes + Array(" \(Base64.encodeUnpadded(mac))\n".utf8)
    }

    static func computeMAC(_ bytes: [UInt8], fileKey: SymmetricKey) -> [UInt8] {
        let macKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: fileKey, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
        return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: macKey))
    }

    /// Checks the MAC in constant time against `fileKey`.
    func verifyMAC(fileKey: SymmetricKey) throws(AgeError) {
        let macKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: fileKey, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: authenticatedBytes, using: macKey) else {
            throw AgeError(.hmac, "the age header MAC does not verify: the header was modified")
        }
    }

    /// Reads and parses a header from `reader`, leaving it positioned at the payload nonce.
    static func read(from reader: AgeReader) throws -> AgeHeader {
        var consumed = 0
        func nextLine() throws -> [UInt8] {
            guard let line = try reader.readLine(max: maxHeaderBytes - consumed, tooLong: AgeError.header("the header is over \(maxHeaderBytes) bytes")) else {
                throw AgeError.header(consumed == 0 ? "the file is empty" : "the header ends before its MAC line")
            }
            consumed += line.count + 1
            guard consumed <= maxHeaderBytes else { throw AgeError.header("the header is over \(maxHeaderBytes) bytes") }
            return line
        }
        var authenticated: [UInt8] = []
        let version = try nextLine()
        guard version == versionLine else {
            throw AgeError.header("not an age v1 file (first line is not \"age-encryption.org/v1\")")
        }
        authenticated += version + [0x0A]
        var stanzas: [AgeStanza] = []
        var line = try nextLine()
        while true {
            if line.starts(with: Array("---".utf8)) {
                // The MAC line: exactly "--- " and 43 canonical base64 characters.
                guard line.count == 4 + 43, line[3] == UInt8(ascii: " "),
                    let mac = Base64.decodeStrict(line[4...], padding: .forbidden), mac.count == 32
                else {
                    throw AgeError.header("the MAC line must be \"--- \" followed by a 32-byte base64 MAC")
                }
                authenticated += Array("---".utf8)
                return AgeHeader(parsedStanzas: stanzas, mac: mac, authenticatedBytes: authenticated)
            }
            guard line.starts(with: Array("-> ".utf8)) else {
                throw AgeError.header("line \(stanzas.count + 2) is neither a stanza (\"-> \") nor the MAC line")
            }
            guard stanzas.count < maxStanzas else { throw AgeError.header("more than \(maxStanzas) stanzas") }
            let words = line[3...].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard !words.isEmpty, words.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 33 && $0 <= 126 } }) else {
                throw AgeError.header("stanza \(stanzas.count + 1) has an empty argument or an invalid character")
            }
            authenticated += line + [0x0A]
            var body: [UInt8] = []
            while true {
                let bodyLine = try nextLine()
                guard bodyLine.count <= columns else {
                    throw AgeError.header("stanza \(stanzas.count + 1) has a body line over \(columns) columns")
                }
                guard let decoded = Base64.decodeStrict(bodyLine, padding: .forbidden) else {
                    throw AgeError.header("stanza \(stanzas.count + 1) has a body that is not canonical unpadded base64")
                }
                authenticated += bodyLine + [0x0A]
                body += decoded
                if bodyLine.count < columns { break }
            }
            let strings = words.map { String(decoding: $0, as: UTF8.self) }
            stanzas.append(AgeStanza(type: strings[0], arguments: Array(strings.dropFirst()), body: body))
            line = try nextLine()
        }
    }

    private init(parsedStanzas: [AgeStanza], mac: [UInt8], authenticatedBytes: [UInt8]) {
        stanzas = parsedStanzas
        self.mac = mac
        self.authenticatedBytes = authenticatedBytes
    }
}
