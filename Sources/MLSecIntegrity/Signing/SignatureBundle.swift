// SignatureBundle: the Sigstore bundle v0.3 JSON that holds a model signature (key and certificate modes).

import MLSecCore

/// A model signature file: a Sigstore bundle wrapping a DSSE envelope.
public struct SignatureBundle: Sendable {
    public static let mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
    /// Largest signature file accepted.
    public static let maxFileBytes = 256 << 20

    /// How the verifier finds the key.
    public enum Material: Sendable, Equatable {
        /// Key mode: the hint is the SHA-256 of the signer's public-key PEM (empty in old bundles).
        case publicKey(hint: String)
        /// Certificate mode: DER certificates, leaf first.
        case certificates([[UInt8]])
    }

    public var material: Material
    public var payloadType: String
    /// The raw statement bytes (DSSE payload, decoded).
    public var payload: [UInt8]
    /// The raw signature bytes.
    public var signature: [UInt8]

    public init(material: Material, payloadType: String = DSSE.inTotoPayloadType, payload: [UInt8], signature: [UInt8]) {
        self.material = material
        self.payloadType = payloadType
        self.payload = payload
        self.signature = signature
    }

    /// The bytes the signature covers.
    public var signedBytes: [UInt8] { DSSE.preAuthenticationEncoding(payloadType: payloadType, payload: payload) }

    /// The bundle document.
    public var json: JSONValue {
        let material: JSONValue
        switch self.material {
        case .publicKey(let hint):
            material = .object([("publicKey", .object([("hint", .string(hint))])), ("tlogEntries", .array([]))])
        case .certificates(let certs):
            material = .object([
                ("x509CertificateChain", .object([
                    ("certificates", .array(certs.map { .object([("rawBytes", .string(Base64.encode($0)))]) }))
                ])),
                ("tlogEntries", .array([])),
            ])
        }
        return .object([
            ("mediaType", .string(SignatureBundle.mediaType)),
            ("verificationMaterial", material),
            ("dsseEnvelope", .object([
                ("payload", .string(Base64.encode(payload))),
                ("payloadType", .string(payloadType)),
                ("signatures", .array([.object([("sig", .string(Base64.encode(signature))), ("keyid", .string(""))])])),
            ])),
        ])
    }

    /// Serialized bundle file bytes (compact JSON, fixed key order).
    public var fileBytes: [UInt8] { JSONWriter.bytes(json) }

    /// Parses an untrusted signature file.
    public init(fileBytes bytes: [UInt8]) throws {
        guard bytes.count <= SignatureBundle.maxFileBytes else {
            throw MLSecError.limitExceeded("signature file is over \(SignatureBundle.maxFileBytes) bytes")
        }
        let json = try JSONParser().parse(bytes, context: "signature file")
        guard case .object = json else { throw MLSecError.malformed("signature file is not a JSON object") }
        guard let mediaType = json["mediaType"]?.stringValue else {
            throw MLSecError.malformed("signature file has no mediaType; it is not a Sigstore bundle")
        }
        guard mediaType == SignatureBundle.mediaType else {
            throw MLSecError.unsupported(
                "signature file has media type \"\(mediaType.prefix(100))\"; expected \(SignatureBundle.mediaType)")
        }
        guard let vm = json["verificationMaterial"], case .object = vm else {
            throw MLSecError.malformed("signature file has no verificationMaterial")
        }
        if let chain = vm["x509CertificateChain"] {
            guard let certs = chain["certificates"]?.arrayValue, !certs.isEmpty, certs.count <= 16 else {
                throw MLSecError.malformed("signature file: x509CertificateChain must hold 1 to 16 certificates")
            }
            var ders: [[UInt8]] = []
            for (i, cert) in certs.enumerated() {
                guard let raw = cert["rawBytes"]?.stringValue, let der = Base64.decode(raw), !der.isEmpty else {
                    throw MLSecError.malformed("signature file: certificate \(i) has no valid rawBytes")
                }
                ders.append(der)
            }
            material = .certificates(ders)
        } else if let key = vm["publicKey"] {
            guard case .object = key else { throw MLSecError.malformed("signature file: publicKey is not an object") }
            let hint = key["hint"]?.stringValue ?? ""
            guard hint.isEmpty || (hint.utf8.count == 64 && Hex.decode(hint) != nil) else {
                throw MLSecError.malformed("signature file: publicKey.hint is not a SHA-256 hex digest")
            }
            material = .publicKey(hint: hint.lowercased())
        } else if vm["certificate"] != nil {
            throw MLSecError.unsupported(
                "signature file was made with Sigstore keyless signing (Fulcio/Rekor); MLSec verifies key and "
                    + "certificate-chain signatures offline")
        } else {
            throw MLSecError.malformed("signature file: verificationMaterial has neither publicKey nor x509CertificateChain")
        }
        guard let envelope = json["dsseEnvelope"], case .object = envelope else {
            throw MLSecError.malformed("signature file has no dsseEnvelope (message signatures are not model signatures)")
        }
        guard let payloadText = envelope["payload"]?.stringValue, let payload = Base64.decode(payloadText) else {
            throw MLSecError.malformed("signature file: dsseEnvelope.payload is missing or not Base64")
        }
        guard let payloadType = envelope["payloadType"]?.stringValue else {
            throw MLSecError.malformed("signature file: dsseEnvelope.payloadType is missing")
        }
        guard payloadType == DSSE.inTotoPayloadType else {
            throw MLSecError.unsupported("signature file: payload type \"\(payloadType.prefix(100))\" is not in-toto JSON")
        }
        guard let signatures = envelope["signatures"]?.arrayValue, let first = signatures.first else {
            throw MLSecError.malformed("signature file: dsseEnvelope.signatures is empty")
        }
        guard let sigText = first["sig"]?.stringValue, let signature = Base64.decode(sigText), !signature.isEmpty,
            signature.count <= 1024
        else {
            throw MLSecError.malformed("signature file: dsseEnvelope.signatures[0].sig is missing or not Base64")
        }
        self.payloadType = payloadType
        self.payload = payload
        self.signature = signature
    }

    /// The statement as JSON (parsed with the strict parser).
    public func statement() throws -> JSONValue {
        try JSONParser().parse(payload, context: "signature payload (in-toto statement)")
    }
}
