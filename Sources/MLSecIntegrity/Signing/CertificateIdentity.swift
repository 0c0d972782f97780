// CertificateIdentity: who a certificate-mode signature must come from (a SAN email or URI, or a subject).

import MLSecCore
import SwiftASN1
import X509

/// The signer a certificate-mode signature must come from, matched exactly against the leaf certificate, as
/// sigstore's `--certificate-identity` is. Without one, any certificate the trusted CA issued is accepted as a
/// model signer (a TLS server certificate included).
///
/// Written forms (``init(parsing:)``):
/// - `email:alice@example.com`: a SubjectAltName rfc822Name, exactly (case included);
/// - `uri:https://ci.example/workflows/release`: a SubjectAltName URI, exactly;
/// - `subject:CN=Model Publisher,O=Example`: the subject in its RFC 4514 string form (the last RDN first,
///   `,` between RDNs, `+` inside one, RFC 4514 escapes; `, ` between RDNs is accepted too), or the value of
///   one of its common names (`subject:Model Publisher`);
/// - anything else (`alice@example.com`, `https://...`): a SubjectAltName email or URI, exactly (cosign's
///   `--certificate-identity`). A SAN URI that starts with `email:`, `uri:` or `subject:` needs the `uri:` form.
///
/// When an identity is required the leaf must also carry the ExtendedKeyUsage codeSigning
/// (1.3.6.1.5.5.7.3.3), as sigstore's verifiers require; anyExtendedKeyUsage does not stand in for it.
public enum CertificateIdentity: Sendable, Hashable, CustomStringConvertible {
    case email(String)
    case uri(String)
    case subject(String)
    /// A SubjectAltName email or URI.
    case subjectAlternativeName(String)

    /// Longest identity value accepted.
    public static let maxLength = 1024

    /// Parses a written identity (see the type's documentation).
    /// - Throws: `MLSecError.usage` for an empty, overlong or control-character value.
    public init(parsing text: String) throws {
        let forms: [(String, (String) -> CertificateIdentity)] = [("email:", { .email($0) }), ("uri:", { .uri($0) }),
                                                                  ("subject:", { .subject($0) })]
        var parsed = CertificateIdentity.subjectAlternativeName(text)
        for (prefix, make) in forms where text.hasPrefix(prefix) {
            parsed = make(String(text.dropFirst(prefix.count)))
            break
        }
        let value = parsed.value
        guard !value.isEmpty, value.utf8.count <= Self.maxLength,
              !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw MLSecError.usage(
                "certificate identity \"\(text.prefix(100))\": give email:ADDRESS, uri:URI, subject:NAME or a SAN email or URI "
                    + "(1-\(Self.maxLength) bytes, no control characters)")
        }
        self = parsed
    }

    /// The expected value, without its form.
    public var value: String {
        switch self {
        case .email(let v), .uri(let v), .subject(let v), .subjectAlternativeName(let v): v
        }
    }

    public var description: String {
        switch self {
        case .email(let v): "email:\(v)"
        case .uri(let v): "uri:\(v)"
        case .subject(let v): "subject:\(v)"
        case .subjectAlternativeName(let v): v
        }
    }

    /// What a leaf certificate says about its holder.
    struct Holder {
        var emails: [String] = []
        var uris: [String] = []
        var dnsNames: [String] = []
        /// RFC 4514 forms of the subject (`,` and `, ` between RDNs).
        var subjectForms: [String] = []
        var commonNames: [String] = []
        var extendedKeyUsages: [String] = []
        var hasCodeSigning = false

        init(_ leaf: Certificate) throws {
            let names: SubjectAlternativeNames?
            let usages: ExtendedKeyUsage?
            do {
                names = try leaf.extensions.subjectAlternativeNames
                usages = try leaf.extensions.extendedKeyUsage
            } catch {
                throw MLSecError.verificationFailed(
                    "the signing certificate's SubjectAltName or ExtendedKeyUsage extension cannot be read; reissue the certificate")
            }
            for name in names ?? SubjectAlternativeNames() {
                switch name {
                case .rfc822Name(let v): emails.append(v)
                case .uniformResourceIdentifier(let v): uris.append(v)
                case .dnsName(let v): dnsNames.append(v)
                default: break
                }
            }
            let rdns = leaf.subject.reversed().map { String(describing: $0) }
            subjectForms = [rdns.joined(separator: ","), rdns.joined(separator: ", ")]
            for rdn in leaf.subject {
                for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                    if let name = String(attribute.value) { commonNames.append(name) }
                }
            }
            for usage in usages ?? ExtendedKeyUsage() {
                extendedKeyUsages.append(String(describing: usage))
                if usage == .codeSigning { hasCodeSigning = true }
            }
        }

        func matches(_ identity: CertificateIdentity) -> Bool {
            switch identity {
            case .email(let v): emails.contains(v)
            case .uri(let v): uris.contains(v)
            case .subject(let v): subjectForms.contains(v) || commonNames.contains(v)
            case .subjectAlternativeName(let v): emails.contains(v) || uris.contains(v)
            }
        }

        /// The identities and usages the certificate has, for error messages.
        var summary: String {
            func list(_ values: [String]) -> String {
                values.isEmpty ? "none" : values.prefix(5).map { "\"\($0.prefix(200))\"" }.joined(separator: ", ")
            }
            let dns = dnsNames.isEmpty ? "" : "SAN DNS names \(list(dnsNames)), "
            return "SAN emails \(list(emails)), SAN URIs \(list(uris)), \(dns)subject \"\((subjectForms.first ?? "").prefix(300))\", "
                + "ExtendedKeyUsage \(extendedKeyUsages.isEmpty ? "none" : extendedKeyUsages.prefix(8).joined(separator: ", "))"
        }
    }

    /// Requires the leaf to be a code-signing certificate (EKU codeSigning) of one of `identities` (any of
    /// them); nothing is required when `identities` is empty.
    /// - Throws: `MLSecError.verificationFailed` naming what was expected and what the certificate has.
    public static func check(_ leaf: Certificate, against identities: [CertificateIdentity]) throws {
        guard !identities.isEmpty else { return }
        let holder = try Holder(leaf)
        let expected = identities.prefix(10).map { "\"\($0.description.prefix(200))\"" }.joined(separator: " or ")
        guard holder.hasCodeSigning else {
            throw MLSecError.verificationFailed(
                "the signing certificate is not a code-signing certificate: the expected signer \(expected) needs ExtendedKeyUsage "
                    + "codeSigning (1.3.6.1.5.5.7.3.3), and the certificate has \(holder.summary); sign with a code-signing "
                    + "certificate issued to the expected identity")
        }
        guard identities.contains(where: holder.matches) else {
            throw MLSecError.verificationFailed(
                "the signing certificate belongs to another signer: expected \(expected), the certificate has \(holder.summary); "
                    + "check the expected identity or who signed the model")
        }
    }
}

extension CertificateIdentity {
    /// The identities a signing certificate (DER) names, in the written form `CertificateIdentity(parsing:)`
    /// reads back: each SAN email (`email:`), each SAN URI (`uri:`) and the subject (`subject:`). This is how the
    /// model registry records who signed a model, and how a deploy policy names trusted signers.
    /// - Throws: `MLSecError.malformed` when the DER is not a certificate, `verificationFailed` when its
    ///   extensions cannot be read.
    public static func identities(ofCertificate der: [UInt8]) throws -> [CertificateIdentity] {
        let leaf: Certificate
        do { leaf = try Certificate(derEncoded: der) } catch {
            throw MLSecError.malformed("signature: the signing certificate is not valid X.509 DER")
        }
        let holder = try Holder(leaf)
        var identities = holder.emails.map(CertificateIdentity.email) + holder.uris.map(CertificateIdentity.uri)
        if let subject = holder.subjectForms.first, !subject.isEmpty { identities.append(.subject(subject)) }
        return identities
    }
}
