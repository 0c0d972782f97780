// The models section in certificate mode: certificate_chain and certificate_identity.

import Foundation
import MLSecCore
import MLSecDeploy
import MLSecGateway
import MLSecIntegrity
import Testing

@Suite("gateway model trust configuration")
struct ModelTrustConfigurationTests {
    /// Parses a configuration whose one model has `trust` (JSON members) in `dir`.
    static func parse(_ trust: String, in dir: String) throws -> GatewayConfiguration {
        try AtomicFile.write(#"{"state_dir": "s", "models": [{"name": "m", "path": "m", "signature": "m.sig", \#(trust)}]}"#, to: "\(dir)/g.json")
        return try GatewayConfiguration(path: "\(dir)/g.json")
    }

    @Test("certificate_chain (resolved) with certificate_identity, a string or an array; either public_keys or certificate_chain")
    func certificateMode() throws {
        let dir = NSTemporaryDirectory() + "mlsec-gw-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var location = try Self.parse(#""certificate_chain": ["ca.pem"], "certificate_identity": "email:publisher@example.com""#, in: dir).models[0].location
        #expect(location.certificateChain == ["\(dir)/ca.pem"] && location.publicKeys.isEmpty)
        #expect(location.certificateIdentities == [.email("publisher@example.com")] && location.trustWarning == nil)
        location = try Self.parse(#""certificate_chain": ["ca.pem"], "certificate_identity": ["subject:CN=Publisher", "https://ci.example/release"]"#, in: dir)
            .models[0].location
        #expect(location.certificateIdentities == [.subject("CN=Publisher"), .subjectAlternativeName("https://ci.example/release")])
        location = try Self.parse(#""certificate_chain": ["ca.pem"]"#, in: dir).models[0].location
        #expect(location.certificateIdentities.isEmpty && location.trustWarning == CertificateChainTrust.noIdentityWarning)
        for bad in [#""public_keys": ["k.pub"], "certificate_chain": ["ca.pem"]"#, #""public_keys": ["k.pub"], "certificate_identity": "a@b""#,
                    #""certificate_chain": ["ca.pem"], "certificate_identity": """#, #""certificate_chain": ["ca.pem"], "certificate_identity": 3"#,
                    #""certificate_chain": ["ca.pem"], "certificate_identity": []"#, #""certificate_chain": []"#] {
            #expect(throws: MLSecError.self) { _ = try Self.parse(bad, in: dir) }
        }
    }
}
