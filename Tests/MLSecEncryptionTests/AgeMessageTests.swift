// Errors a new user meets with age files and the keyring (issue 16): each says what is wrong and what to do.

import Foundation
import MLSecCore
import MLSecEncryption
import Testing

@Suite("age and keyring messages")
struct AgeMessageTests {
    static func sealed(_ recipients: [any AgeRecipient]) throws -> [UInt8] {
        let sink = MemorySink()
        try Age.encrypt(from: MemorySource(Array("weights".utf8)), to: sink, recipients: recipients)
        return sink.bytes
    }

    static func noMatchMessage(_ file: [UInt8], _ identities: [any AgeIdentity]) -> String? {
        do {
            _ = try Age.decrypt(bytes: file, identities: identities)
            return nil
        } catch let error as AgeError {
            return error.kind == .noMatch ? error.message : nil
        } catch {
            return nil
        }
    }

    @Test("a wrong passphrase says the passphrase is wrong; the wrong kind of identity says which kind is needed")
    func noMatchMessages() throws {
        let passphrase = try AgeScryptRecipient(passphrase: SecretBytes(Array("right".utf8)), workFactor: 10)
        let byPassphrase = try Self.sealed([passphrase])
        let wrong = AgeScryptIdentity(passphrase: SecretBytes(Array("wrong".utf8)))
        #expect(Self.noMatchMessage(byPassphrase, [wrong])?.contains("the passphrase is wrong") == true)
        #expect(Self.noMatchMessage(byPassphrase, [AgeX25519Identity.generate()])?.contains("encrypted with a passphrase") == true)
        let byKey = try Self.sealed([AgeX25519Identity.generate().recipient])
        #expect(Self.noMatchMessage(byKey, [wrong])?.contains("not with a passphrase") == true)
        #expect(Self.noMatchMessage(byKey, [AgeX25519Identity.generate()])?.contains("no identity matched") == true)
    }

    @Test("a malformed recipient says it is not an age recipient; a secret key given as one is never repeated")
    func recipientMessages() throws {
        for text in ["age1qqqq", "ssh-ed25519 AAAAC3Nz", "", "age2xyz"] {
            #expect { try AgeX25519Recipient(text) } throws: { error in
                (error as? MLSecError)?.code == .invalidKey && ((error as? MLSecError)?.message.contains("is not an age recipient") ?? false)
            }
        }
        let secret = AgeX25519Identity.generate().secretEncoding
        #expect { try AgeX25519Recipient(secret) } throws: { error in
            guard let message = (error as? MLSecError)?.message else { return false }
            return message.contains("where an age recipient (age1...) belongs") && !message.contains(String(secret.dropFirst(16).prefix(8)))
        }
    }

    @Test("creating a keyring creates its missing parent folders with mode 0700")
    func keyringFolders() throws {
        let root = NSTemporaryDirectory() + "mlsec-home-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        let directory = "\(root)/.mlsec/keyring"
        #expect { try Keyring(directory: directory) } throws: { error in
            (error as? MLSecError)?.message.contains("mlsec keys create NAME") ?? false
        }
        let entry = try Keyring(directory: directory, create: true).create(name: "models")
        for folder in ["\(root)/.mlsec", directory, "\(directory)/identities"] {
            let mode = try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(folder)")
        }
        #expect(try Keyring(directory: directory).active("models") == entry)
    }
}
