// KeygenCommand: `mlsec keygen`, creates signing key pairs.

import ArgumentParser
import MLSecCore
import MLSecIntegrity

struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a key pair for signing models.",
        discussion: """
            The private key is written as PKCS#8 PEM with mode 0600, the public key as SubjectPublicKeyInfo PEM.
            P-256, P-384 and P-521 keys interoperate with the OpenSSF model-signing tools; ed25519 is an \
            MLSec extension that only MLSec verifies.

            Example:
              mlsec keygen --algorithm p256 --private-key signing.pem --public-key signing.pub
            """
    )

    @Option(help: "Key algorithm: p256, p384, p521 or ed25519.")
    var algorithm: SignatureAlgorithm = .p256

    @Option(name: .customLong("private-key"), help: "Where to write the private key (mode 0600).")
    var privateKey: String

    @Option(name: .customLong("public-key"), help: "Where to write the public key.")
    var publicKey: String?

    @Flag(help: "Overwrite existing key files.")
    var force = false

    func run() async throws {
        let key = ModelSigningKey.generate(algorithm)
        if !force {
            for path in [privateKey, publicKey].compactMap({ $0 }) where FileStatus.exists(path) {
                throw MLSecError(.alreadyExists, "\(path) already exists; pass --force to overwrite it")
            }
        }
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
