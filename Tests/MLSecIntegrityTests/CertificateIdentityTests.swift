// Certificate mode with an expected signer: SAN email, SAN URI or subject, and the codeSigning usage.

import Foundation
import MLSecCore
import MLSecIntegrity
import Testing
import X509

@Suite("certificate identity")
struct CertificateIdentityTests {
    /// Authenticates `bundle` against `pki`'s CA, requiring `identities`.
    func authenticate(_ bundle: SignatureBundle, _ pki: TestPKI, _ identities: [CertificateIdentity]) async throws -> Manifest {
        try await ModelVerifier(trust: .certificates(CertificateChainTrust(anchors: [pki.ca], identities: identities)))
            .authenticate(bundle)
    }

    /// Whether `error` is a verification failure whose message holds every one of `parts`.
    static func refused(_ error: any Error, _ parts: String...) -> Bool {
        guard let error = error as? MLSecError, error.code == .verificationFailed else { return false }
        return parts.allSatisfy { error.message.contains($0) }
    }

    @Test("a code-signing certificate with the expected SAN email verifies (email: form and bare form)")
    func expectedEmailVerifies() async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let pki = try TestPKI()
        let bundle = try TestPKI.sign(model.root, with: try pki.codeSigner(email: "alice@example.com"))
        for written in ["email:alice@example.com", "alice@example.com"] {
            let manifest = try await authenticate(bundle, pki, [try CertificateIdentity(parsing: written)])
            #expect(!manifest.items.isEmpty)
        }
        // Any of several identities.
        _ = try await authenticate(bundle, pki, [.email("bob@example.com"), .email("alice@example.com")])
        let report = try await ModelVerifier(trust: .certificates(CertificateChainTrust(anchors: [pki.ca], identities: [.email("alice@example.com")])))
            .verify(modelPath: model.root, bundle: bundle)
        #expect(report.isVerified)
    }

    @Test("another signer's certificate from the same CA is refused, naming the expected and the actual identity")
    func wrongIdentityIsRefused() async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let pki = try TestPKI()
        let bundle = try TestPKI.sign(model.root, with: try pki.codeSigner(email: "mallory@example.com"))
        await #expect { try await authenticate(bundle, pki, [.email("alice@example.com")]) } throws: { error in
            Self.refused(error, "another signer", "alice@example.com", "mallory@example.com")
        }
        // The email must be a SubjectAltName: a common name that looks like it does not count.
        let lookalike = try TestPKI.sign(model.root, with: try pki.codeSigner(email: "mallory@example.com", name: "alice@example.com"))
        await #expect { try await authenticate(lookalike, pki, [.email("alice@example.com")]) } throws: { error in
            Self.refused(error, "another signer")
        }
        // Exact match: no case folding, no prefix or suffix match.
        for expected in ["Mallory@example.com", "mallory@example", "mallory@example.com.evil"] {
            await #expect { try await authenticate(bundle, pki, [.email(expected)]) } throws: { error in
                Self.refused(error, "another signer")
            }
        }
    }

    @Test("a TLS server certificate from the same CA verifies without an identity but is refused when one is required")
    func tlsServerCertificateIsRefused() async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let pki = try TestPKI()
        let bundle = try TestPKI.sign(model.root, with: try pki.tlsServer(host: "models.example"))
        // The gap an identity closes: the chain alone accepts it.
        _ = try await authenticate(bundle, pki, [])
        for identity: CertificateIdentity in [.email("alice@example.com"), .subject("models.example"), .subject("CN=models.example")] {
            await #expect { try await authenticate(bundle, pki, [identity]) } throws: { error in
                Self.refused(error, "not a code-signing certificate", "codeSigning (1.3.6.1.5.5.7.3.3)", "serverAuth", identity.description)
            }
        }
    }

    @Test("subject identity: the RFC 4514 form (with or without spaces) or a common name; not a part of it")
    func subjectMatches() async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let pki = try TestPKI()
        let bundle = try TestPKI.sign(model.root, with: try pki.codeSigner(email: "alice@example.com", name: "Model Publisher"))
        for written in ["subject:CN=Model Publisher,O=Example", "subject:CN=Model Publisher, O=Example", "subject:Model Publisher"] {
            _ = try await authenticate(bundle, pki, [try CertificateIdentity(parsing: written)])
        }
        for subject in ["O=Example", "CN=Model Publisher", "O=Example,CN=Model Publisher", "model publisher", "Example"] {
            await #expect { try await authenticate(bundle, pki, [.subject(subject)]) } throws: { error in
                Self.refused(error, "another signer", "CN=Model Publisher,O=Example")
            }
        }
    }

    @Test("URI identity matches a SAN URI exactly; an email identity does not match a URI")
    func uriMatches() async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let pki = try TestPKI()
        let uri = "https://ci.example/workflows/release.yml@refs/heads/main"
        let leaf = try pki.issue(subject: DistinguishedName(), names: [.uniformResourceIdentifier(uri)], usages: [.codeSigning])
        let bundle = try TestPKI.sign(model.root, with: leaf)
        for written in ["uri:\(uri)", uri] {
            _ = try await authenticate(bundle, pki, [try CertificateIdentity(parsing: written)])
        }
        for identity: CertificateIdentity in [.email(uri), .uri("https://ci.example/workflows/release.yml"), .subject(uri)] {
            await #expect { try await authenticate(bundle, pki, [identity]) } throws: { error in
                Self.refused(error, "another signer", uri)
            }
        }
    }

    @Test("identity parsing: forms, and empty, overlong or control-character values refused")
    func parsing() throws {
        #expect(try CertificateIdentity(parsing: "email:a@b") == .email("a@b"))
        #expect(try CertificateIdentity(parsing: "uri:spiffe://x/y") == .uri("spiffe://x/y"))
        #expect(try CertificateIdentity(parsing: "subject:CN=x") == .subject("CN=x"))
        #expect(try CertificateIdentity(parsing: "https://x/y") == .subjectAlternativeName("https://x/y"))
        #expect(try CertificateIdentity(parsing: "uri:email:x") == .uri("email:x"))
        for bad in ["", "email:", "subject:", "a\nb", "uri:x\u{7f}", String(repeating: "a", count: 1025)] {
            #expect { try CertificateIdentity(parsing: bad) } throws: { error in (error as? MLSecError)?.code == .usage }
        }
    }
}
