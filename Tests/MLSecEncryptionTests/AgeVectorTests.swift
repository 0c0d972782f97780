// Conformance: every non-hybrid C2SP CCTV age vector gives its expected outcome and released-plaintext hash.

import Crypto
import Foundation
import MLSecCore
import MLSecEncryption
import MLSecFormats
import Testing

/// One CCTV vector: its metadata lines and the age file after the blank line.
struct CCTVVector: CustomStringConvertible, Sendable {
    var name: String
    var expect: String
    var payloadHash: String?
    var identities: [String] = []
    var passphrases: [String] = []
    var armored = false
    var file: [UInt8]

    var description: String { name }

    static let directory: URL? = Bundle.module.resourceURL?.appendingPathComponent("Vectors/cctv")

    static func all() -> [CCTVVector] {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
            return []
        }
        return names.sorted().compactMap { name in
            guard name != "SOURCE.md",
                let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                let vector = try? CCTVVector(name: name, bytes: [UInt8](data)),
                // Post-quantum hybrid identities (ML-KEM-768 + X25519) are not supported yet.
                !vector.identities.contains(where: { $0.hasPrefix("AGE-SECRET-KEY-PQ-") })
            else { return nil }
            return vector
        }
    }

    init(name: String, bytes: [UInt8]) throws {
        self.name = name
        var offset = 0
        var compressed = false
        var expect = ""
        while let newline = bytes[offset...].firstIndex(of: 0x0A) {
            let line = String(decoding: bytes[offset..<newline], as: UTF8.self)
            offset = newline + 1
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "expect": expect = value
            case "payload": payloadHash = value
            case "identity": identities.append(value)
            case "passphrase": passphrases.append(value)
            case "armored": armored = value == "yes"
            case "compressed": compressed = value == "zlib"
            default: break
            }
        }
        self.expect = expect
        let body = Array(bytes[offset...])
        file = compressed ? try Decompressor.decompress(body, format: .zlib, maxOutput: 64 << 20) : body
    }
}

/// A sink that hashes what it receives (the plaintext "released" by the decryptor).
final class HashingSink: AgeSink {
    var hasher = SHA256()
    var count = 0
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        count += bytes.count
    }
}

@Suite("age CCTV conformance vectors")
struct AgeVectorTests {
    @Test("the suite is bundled: the 124 vectors without post-quantum identities")
    func bundled() {
        #expect(CCTVVector.all().count == 124)
    }

    @Test("each vector gives the expected outcome and released plaintext", arguments: CCTVVector.all())
    func vector(_ vector: CCTVVector) throws {
        var identities: [any AgeIdentity] = try vector.identities.map { try AgeX25519Identity($0) }
        identities += vector.passphrases.map { AgeScryptIdentity(passphrase: SecretBytes(Array($0.utf8))) }
        let sink = HashingSink()
        var outcome = "success"
        do {
            try Age.decrypt(from: MemorySource(vector.file), to: sink, identities: identities)
        } catch let error as AgeError {
            outcome = error.kind.rawValue
        }
        #expect(outcome == vector.expect, "\(vector.name)")
        if let expected = vector.payloadHash {
            #expect(Hex.encode(sink.hasher.finalize()) == expected, "\(vector.name): released plaintext")
        } else {
            #expect(sink.count == 0, "\(vector.name): nothing may be released")
        }
    }
}
