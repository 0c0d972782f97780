// The model-loading pipeline in certificate mode: the CA's chain, and the expected signer identity.

import Crypto
import Foundation
import MLSecCore
import MLSecDeploy
import MLSecEngine
import MLSecIntegrity
import Testing
import X509

/// A CA (PEM file written next to the model) that issues a code-signing and a TLS server certificate.
struct CertificateAuthority {
    let key = P256.Signing.PrivateKey()
    let name: DistinguishedName
    let certificate: Certificate

    init() throws {
        name = try DistinguishedName { CommonName("MLSec Deploy Test CA") }
        let now = Date()
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
    }

    /// A leaf (KeyUsage digitalSignature) with one SAN and one extended key usage, and its signing key.
    func issue(_ san: GeneralName, usage: ExtendedKeyUsage.Usage) throws -> (Certificate, ModelSigningKey) {
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: now - 60, notValidAfter: now + 3600, issuer: name, subject: try DistinguishedName { CommonName("signer") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([usage])
                SubjectAlternativeNames([san])
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return (leaf, try ModelSigningKey(pem: leafKey.pemRepresentation))
    }

    /// Writes the CA certificate as PEM to `path`.
    func writePEM(to path: String) throws {
        try AtomicFile.write(PEM.encode(type: "CERTIFICATE", der: try CertificateChainTrust.der(certificate)), to: path)
    }
}

@Suite("model loading pipeline, certificate mode")
struct CertificateModelLoaderTests {
    /// Signs `model` in certificate mode with `leaf` (replacing its key-mode signature).
    static func resign(_ model: SignedModel, with leaf: (Certificate, ModelSigningKey)) throws {
        let result = try ModelSigner(identity: .certificate(leaf.1, certificates: [leaf.0])).sign(modelPath: model.modelDir, options: SigningOptions())
        try AtomicFile.write(result.bundle.fileBytes, to: model.signature)
    }

    static func location(_ model: SignedModel, chain: String, identities: [CertificateIdentity]) -> ModelLocation {
        ModelLocation(name: "digits", version: "1", path: model.modelDir, signature: model.signature, publicKeys: [],
                      certificateChain: [chain], certificateIdentities: identities)
    }

    @Test("a model signed by the expected identity loads; another signer or a TLS server certificate of the same CA is refused")
    func loadsOnlyFromTheExpectedSigner() async throws {
        let model = try SignedModel()
        defer { model.remove() }
        let ca = try CertificateAuthority()
        let chain = "\(model.directory)/ca.pem"
        try ca.writePEM(to: chain)
        let expected: [CertificateIdentity] = [.email("publisher@example.com")]

        try Self.resign(model, with: try ca.issue(.rfc822Name("publisher@example.com"), usage: .codeSigning))
        let loaded = try await ModelLoader().load(Self.location(model, chain: chain, identities: expected))
        #expect(loaded.model.weights == model.signed.weights)
        #expect(loaded.warnings.isEmpty)

        try Self.resign(model, with: try ca.issue(.rfc822Name("someone@example.com"), usage: .codeSigning))
        await #expect { try await ModelLoader().load(Self.location(model, chain: chain, identities: expected)) } throws: { error in
            guard let error = error as? MLSecError, error.code == .verificationFailed else { return false }
            return error.message.contains("model digits was not loaded") && error.message.contains("publisher@example.com")
                && error.message.contains("someone@example.com")
        }

        try Self.resign(model, with: try ca.issue(.dnsName("models.example"), usage: .serverAuth))
        await #expect { try await ModelLoader().load(Self.location(model, chain: chain, identities: expected)) } throws: { error in
            guard let error = error as? MLSecError, error.code == .verificationFailed else { return false }
            return error.message.contains("not a code-signing certificate") && error.message.contains("serverAuth")
        }
        // Without an identity the TLS certificate is accepted, with a warning saying so.
        let unpinned = try await ModelLoader().load(Self.location(model, chain: chain, identities: []))
        #expect(unpinned.warnings.contains(CertificateChainTrust.noIdentityWarning))
        #expect(Self.location(model, chain: chain, identities: []).trustWarning != nil)
    }

    @Test("public keys and a certificate chain together, or an identity without a chain, are usage errors")
    func trustIsOneMode() async throws {
        let model = try SignedModel()
        defer { model.remove() }
        var both = model.location()
        both.certificateChain = ["\(model.directory)/ca.pem"]
        var identityOnly = model.location()
        identityOnly.certificateIdentities = [.email("publisher@example.com")]
        for location in [both, identityOnly] {
            await #expect { try await ModelLoader().load(location) } throws: { error in (error as? MLSecError)?.code == .usage }
        }
        #expect(model.location().trustWarning == nil)
    }
}
