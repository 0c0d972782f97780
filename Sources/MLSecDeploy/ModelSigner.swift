// ModelSigner: who signed a model, as the registry records it and a deploy policy names it.

import Crypto
import MLSecCore
import MLSecIntegrity

/// The signer of a verified model: the trusted public key that verified it, or the certificate its chain led to.
public struct ModelSigner: Sendable, Equatable {
    /// `sha256:<hex>` of the signing key's DER SubjectPublicKeyInfo (`openssl pkey -pubin -in KEY.pub -outform DER | sha256sum` computes it; `mlsec registry show` prints it as the signer); in
    /// certificate mode, the certificate's key.
    public var keyFingerprint: String
    /// Certificate mode: the identities the signing certificate names (`email:`, `uri:`, `subject:` forms);
    /// empty in key mode.
    public var certificateIdentities: [String]

    public init(keyFingerprint: String, certificateIdentities: [String] = []) {
        self.keyFingerprint = keyFingerprint
        self.certificateIdentities = certificateIdentities
    }

    /// The signer of a key-mode signature.
    public init(key: ModelVerifyingKey) {
        self.init(keyFingerprint: Self.fingerprint(of: key))
    }

    /// The signer of a certificate-mode signature whose chain was validated.
    init(_ bundle: SignatureBundle) throws {
        guard case .certificates(let chain) = bundle.material, let leaf = chain.first else {
            throw MLSecError.malformed("signature: a certificate-mode signature without a certificate")
        }
        let key = try CertificateChainTrust.publicKey(ofCertificate: leaf)
        self.init(keyFingerprint: Self.fingerprint(of: key),
                  certificateIdentities: try CertificateIdentity.identities(ofCertificate: leaf).map(\.description))
    }

    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
    public static func fingerprint(of key: ModelVerifyingKey) -> String {
        "sha256:" + Hex.encode(Array(SHA256.hash(data: key.spki)))
    }

    /// One line for records and messages: `certificate:<first identity>` or `key:<fingerprint>`.
    public var summary: String {
        if let identity = certificateIdentities.first { return "certificate:\(identity)" }
        return "key:\(keyFingerprint)"
    }
}
