// Age: encrypting and decrypting age v1 files (header, recipients, armor, payload) over sources and sinks.

import Crypto
import Foundation
import MLSecCore

/// The age v1 file format (c2sp.org/age): encrypt to X25519 recipients or a passphrase, decrypt with
/// identities, optionally ASCII-armored. Files interoperate with `age`, `rage` and `pyrage`.
///
/// ```swift
/// let identity = AgeX25519Identity.generate()
/// let sink = MemorySink()
/// try Age.encrypt(from: MemorySource(plaintext), to: sink, recipients: [identity.recipient])
/// let plain = try Age.decrypt(bytes: sink.bytes, identities: [identity])
/// ```
public enum Age {
    /// Encrypts `source` to `recipients`, writing the age file to `sink`.
    /// - Throws: `MLSecError` (usage) for a passphrase mixed with other recipients or no recipient at all;
    ///   I/O errors from the source or sink.
    public static func encrypt(
        from source: any AgeSource, to sink: any AgeSink, recipients: [any AgeRecipient], armor: Bool = false
    ) throws {
        guard !recipients.isEmpty else { throw MLSecError.usage("no recipient given") }
        guard recipients.count == 1 || !recipients.contains(where: \.mustBeAlone) else {
            throw MLSecError.usage("a passphrase must be the only recipient of a file")
        }
        let fileKey = SymmetricKey(size: .bits128)
        let stanzas = try recipients.flatMap { try $0.wrap(fileKey: fileKey) }
        let out: any AgeSink = armor ? try ArmorEncodingSink(sink) : sink
        try out.write(AgeHeader(stanzas: stanzas, fileKey: fileKey).encoded())
        try AgeStream.encrypt(from: AgeReader(source), to: out, fileKey: fileKey)
        if let armored = out as? ArmorEncodingSink { try armored.finish() }
    }

    /// Decrypts the age file in `source` (binary or armored) into `sink`.
    ///
    /// Each 64 KiB chunk reaches `sink` only after it authenticated; on a payload failure the chunks before it
    /// have been written, so a caller that needs all-or-nothing output writes to a temporary file (as
    /// ``decryptFile(at:to:identities:)`` does) or to memory.
    /// - Throws: `AgeError` naming the failure (armor, header, no match, HMAC, payload); I/O errors.
    public static func decrypt(from source: any AgeSource, to sink: any AgeSink, identities: [any AgeIdentity]) throws {
        let (reader, fileKey) = try openHeader(source, identities: identities)
        try AgeStream.decrypt(from: reader, to: sink, fileKey: fileKey)
    }

    /// Decrypts an age file held in memory into memory, up to `maxBytes` of plaintext.
    public static func decrypt(bytes: [UInt8], identities: [any AgeIdentity], maxBytes: Int = Int.max) throws -> [UInt8] {
        let sink = MemorySink(maxBytes: maxBytes)
        do {
            try decrypt(from: MemorySource(bytes), to: sink, identities: identities)
        } catch {
            sink.wipe()
            throw error
        }
        return sink.bytes
    }

    /// Decrypts the file at `path` into memory only (no plaintext ever touches the disk), up to `maxBytes`.
    public static func decryptFile(at path: String, identities: [any AgeIdentity], maxBytes: Int) throws -> [UInt8] {
        let file = try ReadOnlyFile(path: path, nonBlocking: true)
        guard try file.status().kind == .regular else { throw MLSecError.io("\(path) is not a regular file") }
        let sink = MemorySink(maxBytes: maxBytes)
        do {
            try decrypt(from: FileDescriptorSource(descriptor: file.descriptor, name: path), to: sink, identities: identities)
        } catch {
            sink.wipe()
            throw error
        }
        return sink.bytes
    }

    /// Why no identity opened the file, in the words of the person decrypting it: a wrong passphrase says so.
    static func noMatch(_ stanzas: [AgeStanza], _ identities: [any AgeIdentity]) -> AgeError {
        let passphraseFile = stanzas.count == 1 && stanzas[0].type == "scrypt"
        let passphraseGiven = identities.contains { $0 is AgeScryptIdentity }
        switch (passphraseFile, passphraseGiven) {
        case (true, true):
            return AgeError(.noMatch, "the passphrase is wrong: it does not decrypt this passphrase-encrypted file")
        case (true, false):
            return AgeError(.noMatch, "this file is encrypted with a passphrase; decrypt it with the passphrase (--passphrase-file)")
        case (false, true) where identities.allSatisfy({ $0 is AgeScryptIdentity }):
            return AgeError(.noMatch, "this file is encrypted to age recipients, not with a passphrase; decrypt it with an identity (-i) or a keyring key")
        default:
            return AgeError(.noMatch, "no identity matched any of the file's \(stanzas.count) recipient(s); "
                + "decrypt it with the identity (or keyring key) it was encrypted to")
        }
    }

    /// Reads (and de-armors) the header, unwraps the file key with the first identity that can, and checks
    /// the header MAC. Returns a reader at the payload nonce.
    static func openHeader(_ source: any AgeSource, identities: [any AgeIdentity]) throws -> (AgeReader, SymmetricKey) {
        var reader = AgeReader(source)
        if let first = try reader.peek(1).first, first != UInt8(ascii: "a") {
            // Not a binary age file: it must be armored (whitespace is allowed around the armor).
            guard try reader.skipWhitespace(max: AgeArmor.maxWhitespace) else {
                throw AgeError.armor("too much whitespace before the BEGIN line")
            }
            reader = AgeReader(try ArmorDecodingSource(reader: reader))
        }
        let header = try AgeHeader.read(from: reader)
        if header.stanzas.contains(where: { $0.type == "scrypt" }), header.stanzas.count != 1 {
            throw AgeError.header("an scrypt (passphrase) stanza must be the only stanza in the file")
        }
        var fileKey: SymmetricKey?
        for identity in identities {
            if let key = try identity.unwrap(stanzas: header.stanzas) {
                fileKey = key
                break
            }
        }
        guard let fileKey else { throw noMatch(header.stanzas, identities) }
        try header.verifyMAC(fileKey: fileKey)
        return (reader, fileKey)
    }

    /// Re-wraps the file key of the age file in `source` for `recipients`, copying the payload unchanged
    /// (rotation without handling plaintext). Armored input gives armored output. The payload is not
    /// decrypted, so verify it separately if needed; the header MAC is checked with the old key.
    public static func rewrap(
        from source: any AgeSource, to sink: any AgeSink, identities: [any AgeIdentity], recipients: [any AgeRecipient]
    ) throws {
        guard !recipients.isEmpty else { throw MLSecError.usage("no recipient given") }
        guard recipients.count == 1 || !recipients.contains(where: \.mustBeAlone) else {
            throw MLSecError.usage("a passphrase must be the only recipient of a file")
        }
        let (reader, fileKey) = try openHeader(source, identities: identities)
        let stanzas = try recipients.flatMap { try $0.wrap(fileKey: fileKey) }
        let out: any AgeSink = reader.source is ArmorDecodingSource ? try ArmorEncodingSink(sink) : sink
        try out.write(AgeHeader(stanzas: stanzas, fileKey: fileKey).encoded())
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try reader.readFull(into: buffer)
            if n > 0 { try out.write(UnsafeRawBufferPointer(rebasing: buffer[..<n])) }
            if n < buffer.count { break }
        }
        if let armor = out as? ArmorEncodingSink { try armor.finish() }
    }
}
