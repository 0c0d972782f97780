// CertificateChainTrust: validates a signing certificate chain against local trust anchors, now.

import Crypto
import Foundation
import MLSecCore
import SwiftASN1
import X509

/// Certificate-mode trust: a leaf certificate must chain to one of the given anchors under RFC 5280 rules,
/// be valid at verification time (the reference checks at the leaf's notBefore, so expired certificates
/// pass there), and be meant for signing (KeyUsage digitalSignature or ExtendedKeyUsage codeSigning).
/// With expected ``identities`` the leaf must also be a code-signing certificate of one of them (checked after
/// the chain); without, any certificate the anchors issued is accepted as the signer (see ``noIdentityWarning``).
public struct CertificateChainTrust: Sendable {
    public let anchors: [Certificate]
    /// The signers accepted (any one of them); empty: any certificate that chains to the anchors.
    public let identities: [CertificateIdentity]

    public init(anchors: [Certificate], identities: [CertificateIdentity] = []) {
        self.anchors = anchors
        self.identities = identities
    }

    /// Trust in every certificate of the given PEM files (each at most 1 MiB).
    public init(pemFiles: [String], identities: [CertificateIdentity] = []) throws {
        var anchors: [Certificate] = []
        for path in pemFiles {
            let text = String(decoding: try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: "certificate chain"), as: UTF8.self)
            anchors += try Self.certificates(pemText: text, context: path)
        }
        self.init(anchors: anchors, identities: identities)
    }

    /// The warning for certificate mode without an expected identity.
    public static let noIdentityWarning =
        "certificate mode without an expected signer identity: any certificate the CA issued is accepted as the model's "
        + "signer, a TLS server certificate included; pass --certificate-identity (email:ADDRESS, uri:URI or subject:NAME), "
        + "or certificate_identity in a gateway model"

    /// Reads every certificate in the given PEM files.
    public static func certificates(pemText: String, context: String) throws -> [Certificate] {
        var out: [Certificate] = []
        for block in try PEM.decodeAll(pemText, context: context) where block.type == "CERTIFICATE" {
            do {
                out.append(try Certificate(derEncoded: block.der))
            } catch {
                throw MLSecError.malformed("\(context): a CERTIFICATE block is not a valid X.509 certificate")
            }
        }
        guard !out.isEmpty else { throw MLSecError.malformed("\(context): no CERTIFICATE block found") }
        return out
    }

    /// Validates `chain` (leaf first, DER), then the signer's identity when ``identities`` are given, and returns
    /// the leaf's public key.
    public func validate(chain: [[UInt8]], at time: Date = Date()) async throws -> ModelVerifyingKey {
        guard let leafDER = chain.first else { throw MLSecError.malformed("signature: empty certificate chain") }
        let leaf: Certificate
        var intermediates: [Certificate] = []
        do {
            leaf = try Certificate(derEncoded: leafDER)
            for der in chain.dropFirst() { intermediates.append(try Certificate(derEncoded: der)) }
        } catch {
            throw MLSecError.malformed("signature: the embedded certificate chain is not valid X.509 DER")
        }
        guard leaf.notValidBefore <= time, time <= leaf.notValidAfter else {
            throw MLSecError.verificationFailed(
                "the signing certificate is not valid now (valid from \(leaf.notValidBefore) to \(leaf.notValidAfter))")
        }
        try Self.checkSigningUsage(leaf)
        var verifier = Verifier(rootCertificates: CertificateStore(anchors)) {
            RFC5280Policy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        switch result {
        case .validCertificate:
            break
        case .couldNotValidate(let failures):
            let reason = failures.first.map { "\($0.policyFailureReason)" } ?? "no chain to a trusted certificate"
            throw MLSecError.verificationFailed("the signing certificate does not chain to a trusted certificate: \(reason)")
        }
        try CertificateIdentity.check(leaf, against: identities)
        return try Self.publicKey(of: leaf)
    }

    /// The leaf must allow digital signatures or code signing.
    static func checkSigningUsage(_ leaf: Certificate) throws {
        let usage = try? leaf.extensions.keyUsage
        let extended = try? leaf.extensions.extendedKeyUsage
        let digitalSignature = usage?.digitalSignature ?? false
        let codeSigning = extended?.contains(.codeSigning) ?? false
        guard digitalSignature || codeSigning else {
            throw MLSecError.verificationFailed(
                "the signing certificate allows neither digitalSignature (KeyUsage) nor codeSigning (ExtendedKeyUsage)")
        }
    }

    /// The EC public key of a DER certificate.
    public static func publicKey(ofCertificate der: [UInt8]) throws -> ModelVerifyingKey {
        let certificate: Certificate
        do { certificate = try Certificate(derEncoded: der) } catch {
            throw MLSecError.malformed("signature: the signing certificate is not valid X.509 DER")
        }
        return try publicKey(of: certificate)
    }

    /// The EC public key of a certificate.
    public static func publicKey(of certificate: Certificate) throws -> ModelVerifyingKey {
        if let k = P256.Signing.PublicKey(certificate.publicKey) { return ModelVerifyingKey(storage: .p256(k)) }
        if let k = P384.Signing.PublicKey(certificate.publicKey) { return ModelVerifyingKey(storage: .p384(k)) }
        if let k = P521.Signing.PublicKey(certificate.publicKey) { return ModelVerifyingKey(storage: .p521(k)) }
        throw MLSecError.invalidKey("the signing certificate's key is not an EC P-256, P-384 or P-521 key")
    }

    /// DER bytes of a certificate.
    public static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
