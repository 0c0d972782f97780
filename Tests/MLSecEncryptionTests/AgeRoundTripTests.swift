// age encryption round trips, tampering, atomic file output, re-wrapping and key files.

import Crypto
import Foundation
import MLSecCore
import MLSecEncryption
import Testing

private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

private func encrypt(_ plain: [UInt8], to recipients: [any AgeRecipient], armor: Bool = false) throws -> [UInt8] {
    let sink = MemorySink()
    try Age.encrypt(from: MemorySource(plain), to: sink, recipients: recipients, armor: armor)
    return sink.bytes
}

private func failure(_ file: [UInt8], _ identities: [any AgeIdentity]) -> AgeError.Kind? {
    do {
        _ = try Age.decrypt(bytes: file, identities: identities)
        return nil
    } catch let error as AgeError {
        return error.kind
    } catch {
        return nil
    }
}

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "mlsec-age-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("age round trips")
struct AgeRoundTripTests {
    static let sizes = [0, 1, 65_535, 65_536, 65_537, 3 * 65_536, 3 * 1024 * 1024 + 7]

    @Test("X25519: every size round-trips, binary and armored", arguments: sizes)
    func x25519(size: Int) throws {
        let identity = AgeX25519Identity.generate()
        let plain = randomBytes(size, seed: UInt64(size))
        for armor in [false, true] {
            let file = try encrypt(plain, to: [identity.recipient], armor: armor)
            let chunks = max(1, (size + 65_535) / 65_536)
            if !armor { #expect(file.count > size + 16 * chunks + 16) }
            #expect(try Age.decrypt(bytes: file, identities: [identity]) == plain)
        }
    }

    @Test("passphrase (scrypt) round-trips; the wrong passphrase is no match")
    func passphrase() throws {
        let recipient = try AgeScryptRecipient(passphrase: SecretBytes(Array("correct horse".utf8)), workFactor: 10)
        let file = try encrypt(Array("secret weights".utf8), to: [recipient])
        let right = AgeScryptIdentity(passphrase: SecretBytes(Array("correct horse".utf8)))
        #expect(try Age.decrypt(bytes: file, identities: [right]) == Array("secret weights".utf8))
        #expect(failure(file, [AgeScryptIdentity(passphrase: SecretBytes(Array("wrong".utf8)))]) == .noMatch)
        // A passphrase cannot share a file with other recipients.
        #expect(throws: MLSecError.self) {
            _ = try encrypt([1], to: [recipient, AgeX25519Identity.generate().recipient])
        }
    }

    @Test("several recipients: each one decrypts; a stranger gets no match")
    func multipleRecipients() throws {
        let a = AgeX25519Identity.generate()
        let b = AgeX25519Identity.generate()
        let file = try encrypt([1, 2, 3], to: [a.recipient, b.recipient])
        #expect(try Age.decrypt(bytes: file, identities: [a]) == [1, 2, 3])
        #expect(try Age.decrypt(bytes: file, identities: [b]) == [1, 2, 3])
        #expect(failure(file, [AgeX25519Identity.generate()]) == .noMatch)
    }

    @Test("truncation at and between chunk boundaries is rejected")
    func truncation() throws {
        let identity = AgeX25519Identity.generate()
        let plain = randomBytes(3 * 65_536 + 100, seed: 7)
        let file = try encrypt(plain, to: [identity.recipient])
        let headerEnd = file.count - (3 * (65_536 + 16) + 100 + 16) - 16
        let payloadStart = headerEnd + 16
        var cuts = [headerEnd, headerEnd + 8, payloadStart, file.count - 1, file.count - 16, file.count - 117]
        for k in 1...3 { cuts += [payloadStart + k * (65_536 + 16), payloadStart + k * (65_536 + 16) - 1] }
        for cut in cuts {
            let kind = failure(Array(file[..<cut]), [identity])
            #expect(kind == .payload || kind == .header, "cut at \(cut) gave \(String(describing: kind))")
        }
        // Appending data or a copy of the last chunk is rejected too.
        #expect(failure(file + [0], [identity]) == .payload)
        #expect(failure(file + file[(file.count - 116)...], [identity]) == .payload)
    }

    @Test("a swapped chunk, a flipped payload byte and a flipped header byte are rejected")
    func tampering() throws {
        let identity = AgeX25519Identity.generate()
        let plain = randomBytes(3 * 65_536 + 5, seed: 9)
        let file = try encrypt(plain, to: [identity.recipient])
        let sealed = 65_536 + 16
        let payloadStart = file.count - (3 * sealed + 5 + 16)
        var swapped = file
        swapped.replaceSubrange(payloadStart..<(payloadStart + sealed), with: file[(payloadStart + sealed)..<(payloadStart + 2 * sealed)])
        swapped.replaceSubrange((payloadStart + sealed)..<(payloadStart + 2 * sealed), with: file[payloadStart..<(payloadStart + sealed)])
        #expect(failure(swapped, [identity]) == .payload)
        var flipped = file
        flipped[payloadStart + 100] ^= 1
        #expect(failure(flipped, [identity]) == .payload)
        // Every byte of the header is covered: a flip is a header, HMAC or no-match failure, never success.
        let headerLength = payloadStart - 16
        for position in stride(from: 0, to: headerLength, by: 3) {
            var bad = file
            bad[position] ^= 0x01
            #expect(failure(bad, [identity]) != nil, "flip at \(position)")
        }
        var badNonce = file
        badNonce[headerLength + 3] ^= 1
        #expect(failure(badNonce, [identity]) == .payload)
    }

    @Test("decryption to a file leaves nothing behind on failure, and a 0600 file on success")
    func atomicOutput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let identity = AgeX25519Identity.generate()
        let plain = randomBytes(200_000, seed: 3)
        let file = try encrypt(plain, to: [identity.recipient])
        try AtomicFile.write(Array(file.dropLast(10)), to: "\(dir)/cut.age")
        #expect(throws: AgeError.self) {
            try Age.decryptFile(at: "\(dir)/cut.age", to: "\(dir)/out.bin", identities: [identity])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["cut.age"])
        try AtomicFile.write(file, to: "\(dir)/ok.age")
        try Age.decryptFile(at: "\(dir)/ok.age", to: "\(dir)/out.bin", identities: [identity])
        #expect(FileManager.default.contents(atPath: "\(dir)/out.bin").map { [UInt8]($0) } == plain)
        #expect(try FileStatus.status("\(dir)/out.bin").mode & 0o777 == 0o600)
        // In memory only, with a cap.
        #expect(try Age.decryptFile(at: "\(dir)/ok.age", identities: [identity], maxBytes: 1 << 20) == plain)
        #expect(throws: MLSecError.self) {
            _ = try Age.decryptFile(at: "\(dir)/ok.age", identities: [identity], maxBytes: 1000)
        }
    }

    @Test("re-wrapping changes only the header: the new key decrypts, the payload bytes are identical")
    func rewrap() throws {
        let old = AgeX25519Identity.generate()
        let new = AgeX25519Identity.generate()
        let plain = randomBytes(150_000, seed: 5)
        for armor in [false, true] {
            let file = try encrypt(plain, to: [old.recipient], armor: armor)
            let sink = MemorySink()
            try Age.rewrap(from: MemorySource(file), to: sink, identities: [old], recipients: [new.recipient])
            #expect(try Age.decrypt(bytes: sink.bytes, identities: [new]) == plain)
            #expect(failure(sink.bytes, [old]) == .noMatch)
            if !armor { #expect(Array(sink.bytes.suffix(150_000)) == Array(file.suffix(150_000))) }
        }
    }
}

@Suite("age keys and key files")
struct AgeKeyTests {
    @Test("Bech32: BIP 173 valid strings decode; bad checksums and mixed case are refused")
    func bech32() throws {
        for valid in ["A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"] {
            _ = try Bech32.decode(valid)
        }
        for invalid in ["A1G7SGD8", "a12UEL5L", "1nwldj5", "abc1rzg", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e2w"] {
            #expect(throws: MLSecError.self) { _ = try Bech32.decode(invalid) }
        }
        let data = randomBytes(32, seed: 1)
        #expect(try Bech32.decode(Bech32.encode(hrp: "age", data: data)).data == data)
    }

    @Test("identities and recipients round-trip through their text forms; secrets stay out of descriptions")
    func textForms() throws {
        let identity = AgeX25519Identity.generate()
        let secret = identity.secretEncoding
        #expect(secret.hasPrefix("AGE-SECRET-KEY-1"))
        #expect(try AgeX25519Identity(secret).recipient == identity.recipient)
        #expect(identity.recipient.description.hasPrefix("age1"))
        #expect(try AgeX25519Recipient(identity.recipient.description) == identity.recipient)
        #expect(!"\(identity)".contains(secret) && !String(reflecting: identity).contains(secret.lowercased()))
        #expect(throws: MLSecError.self) { _ = try AgeX25519Identity(secret.lowercased()) }
        #expect(throws: MLSecError.self) { _ = try AgeX25519Recipient(secret) }
        let passphrase = SecretBytes(Array("hunter2".utf8))
        #expect(!"\(passphrase)".contains("hunter2"))
    }

    @Test("identity files are written 0600 and read back; errors name the line, not the key")
    func identityFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let identity = AgeX25519Identity.generate()
        try AgeKeyFiles.writeIdentity(identity, to: "\(dir)/key.txt")
        #expect(try FileStatus.status("\(dir)/key.txt").mode & 0o777 == 0o600)
        #expect(try AgeKeyFiles.readIdentities("\(dir)/key.txt").map(\.recipient) == [identity.recipient])
        #expect(throws: MLSecError.self) { try AgeKeyFiles.writeIdentity(identity, to: "\(dir)/key.txt") }
        try AtomicFile.write("# comment\n\nAGE-SECRET-KEY-1NOTAKEY\n", to: "\(dir)/bad.txt")
        do {
            _ = try AgeKeyFiles.readIdentities("\(dir)/bad.txt")
            Issue.record("a bad identity file was accepted")
        } catch let error as MLSecError {
            #expect(error.message.contains("bad.txt:3") && !error.message.contains("NOTAKEY"))
        }
    }

    @Test("keyring: create, rotate with re-wrapping, old versions decrypt until retired")
    func keyring() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ring = try Keyring(directory: "\(dir)/ring", create: true)
        let first = try ring.create(name: "models")
        #expect(throws: MLSecError.self) { try ring.create(name: "models") }
        try FileManager.default.createDirectory(atPath: "\(dir)/store", withIntermediateDirectories: true)
        let plain = randomBytes(100_000, seed: 11)
        let sink = MemorySink()
        try Age.encrypt(from: MemorySource(plain), to: sink, recipients: [try ring.recipient(for: "models")])
        try AtomicFile.write(sink.bytes, to: "\(dir)/store/weights.age")
        try AtomicFile.write([1, 2, 3], to: "\(dir)/store/readme.txt")

        let (second, rewrapped) = try ring.rotate(name: "models", rewrapping: ["\(dir)/store"])
        #expect(rewrapped == ["\(dir)/store/weights.age"])
        #expect(ring.active("models")?.id == second.id && first.id != second.id)
        let reopened = try Keyring(directory: "\(dir)/ring")
        #expect(reopened.entries.map(\.status) == [.previous, .active])
        // The re-wrapped file opens with the new key alone.
        let newOnly = try AgeKeyFiles.readIdentities("\(dir)/ring/identities/\(second.id).key")
        #expect(try Age.decryptFile(at: "\(dir)/store/weights.age", identities: newOnly, maxBytes: 1 << 20) == plain)
        // Retiring the active key is refused; retiring the old one destroys its secret.
        #expect(throws: MLSecError.self) { _ = try reopened.retire(id: second.id) }
        _ = try reopened.retire(id: first.id)
        #expect(!FileStatus.exists("\(dir)/ring/identities/\(first.id).key"))
        #expect(try reopened.identities(for: "models").map(\.recipient.description) == [second.recipient])
        #expect(try FileStatus.status("\(dir)/ring/identities/\(second.id).key").mode & 0o777 == 0o600)
    }
}
