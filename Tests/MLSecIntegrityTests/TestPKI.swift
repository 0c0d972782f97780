// TestPKI: a throwaway CA that issues code-signing and TLS server certificates for certificate-mode tests.

import Crypto
import Foundation
import MLSecIntegrity
import X509

/// A P-256 CA, valid for a day around now, that issues leaf certificates.
struct TestPKI {
    let caKey = P256.Signing.PrivateKey()
    let caName: DistinguishedName
    let ca: Certificate

    /// A leaf certificate and its signing key.
    struct Leaf {
        let certificate: Certificate
        let key: ModelSigningKey
    }

    init(name: String = "MLSec Test CA") throws {
        caName = try DistinguishedName { CommonName(name) }
        let now = Date()
        ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400, issuer: caName, subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
    }

    /// A leaf with KeyUsage digitalSignature, these SubjectAltNames and these extended key usages.
    func issue(subject: DistinguishedName, names: [GeneralName], usages: [ExtendedKeyUsage.Usage]) throws -> Leaf {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now - 60, notValidAfter: now + 3600, issuer: caName, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                if !usages.isEmpty { try ExtendedKeyUsage(usages) }
                if !names.isEmpty { SubjectAlternativeNames(names) }
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        return Leaf(certificate: certificate, key: try ModelSigningKey(pem: key.pemRepresentation))
    }

    /// A code-signing certificate (EKU codeSigning) for a person: SAN email, subject `CN=<name>,O=Example`.
    func codeSigner(email: String, name: String = "Model Publisher") throws -> Leaf {
        try issue(subject: try DistinguishedName { OrganizationName("Example"); CommonName(name) },
                  names: [.rfc822Name(email)], usages: [.codeSigning])
    }

    /// A TLS server certificate (EKU serverAuth, SAN DNS name) from the same CA.
    func tlsServer(host: String = "models.example") throws -> Leaf {
        try issue(subject: try DistinguishedName { CommonName(host) }, names: [.dnsName(host)], usages: [.serverAuth])
    }

    /// Signs `modelPath` with `leaf` (certificate mode, the leaf embedded) and returns the bundle.
    static func sign(_ modelPath: String, with leaf: Leaf) throws -> SignatureBundle {
        let signer = try ModelSigner(identity: .certificate(leaf.key, certificates: [leaf.certificate]))
        return try signer.sign(modelPath: modelPath, options: SigningOptions()).bundle
    }
}
