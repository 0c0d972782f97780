// KeygenCommand: `mlsec keygen`, creates signing key pairs.

import ArgumentParser
import MLSecCore
import MLSecEncryption
import MLSecIntegrity

/// What `mlsec keygen` can create: signing keys, or an age X25519 identity for encryption.
enum KeyAlgorithm: String, ExpressibleByArgument, CaseIterable {
    case p256, p384, p521, ed25519, x25519

    var signature: SignatureAlgorithm? { SignatureAlgorithm(rawValue: rawValue) }
}

struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a key pair for signing models, or an age identity for encrypting them.",
        discussion: """
            Signing keys: the private key is written as PKCS#8 PEM with mode 0600, the public key as \
            SubjectPublicKeyInfo PEM. P-256, P-384 and P-521 keys interoperate with the OpenSSF model-signing \
            tools; ed25519 is an MLSec extension that only MLSec verifies.

            x25519: an age identity file (age-keygen format, mode 0600); the recipient (age1...) is printed \
            and, with --public-key, written to a recipients file.

            Examples:
              mlsec keygen --private-key signing.pem --public-key signing.pub   # P-256
              mlsec keygen --algorithm x25519 --private-key model.key
            """
    )

    @Option(help: "Key algorithm: p256, p384, p521, ed25519 (signing) or x25519 (age encryption).")
    var algorithm: KeyAlgorithm = .p256

    @Option(name: .customLong("private-key"), help: "Where to write the private key (mode 0600).")
    var privateKey: String

    @Option(name: .customLong("public-key"), help: "Where to write the public key.")
    var publicKey: String?

    @Flag(help: "Overwrite existing key files.")
    var force = false

    func run() async throws {
        if !force {
            for path in [privateKey, publicKey].compactMap({ $0 }) where FileStatus.exists(path) {
                throw MLSecError(.alreadyExists, "\(path) already exists; pass --force to overwrite it")
            }
        }
        guard let algorithm = algorithm.signature else {
            let identity = AgeX25519Identity.generate()
            try AgeKeyFiles.writeIdentity(identity, to: privateKey, overwrite: force)
            if let publicKey {
                try AtomicFile.write("\(identity.recipient)\n", to: publicKey, mode: 0o644, overwrite: force)
            }
            print(identity.recipient)
            return
        }
        let key = ModelSigningKey.generate(algorithm)
        try AtomicFile.write(key.pemRepresentation, to: privateKey, mode: 0o600, overwrite: force)
        if let publicKey {
            try AtomicFile.write(key.publicKey.pemRepresentation, to: publicKey, mode: 0o644, overwrite: force)
        }
        if !algorithm.isInteroperable {
            Terminal.warning("ed25519 signatures are an MLSec extension: the OpenSSF model_signing tool cannot verify them")
        }
        print(key.publicKey.pemRepresentation, terminator: "")
    }
}
