// Receipt: signed inference receipts (MLSec-Receipt header), issued by the gateway and verifiable offline.

import Crypto
import Foundation
import MLSecCore
import MLSecIntegrity

/// A signed statement that a model (by digest) answered a request (by hash) with a response (by hash).
///
/// Encoding: base64url (no padding) of a JSON object with string fields `model`, `model_version`,
/// `model_digest`, `request_sha256`, `response_sha256`, `time`, `key_id`, `receipt_id` and `signature`, where
/// `signature` is base64url Ed25519 over the canonical JSON (sorted keys, no whitespace) of the other fields.
public struct Receipt: Sendable, Equatable {
    public var fields: [String: String]

    /// The signed fields in canonical (byte) order of their keys.
    static let signedFields = ["key_id", "model", "model_digest", "model_version", "receipt_id", "request_sha256",
                               "response_sha256", "time"]
    /// All fields in canonical order: `signature` sorts between `response_sha256` and `time`.
    static let allFields = ["key_id", "model", "model_digest", "model_version", "receipt_id", "request_sha256",
                            "response_sha256", "signature", "time"]

    /// The bytes the signature covers: canonical JSON of the signed fields.
    static func signedBytes(_ fields: [String: String]) -> [UInt8] {
        canonicalJSON(of: fields, keys: signedFields)
    }

    /// Canonical JSON of the string members `keys` (already in key order) of `fields`, written directly.
    private static func canonicalJSON(of fields: [String: String], keys: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        JSONWriter.appendObject(keys.compactMap { key in fields[key].map { (key, $0) } }, to: &out)
        return out
    }

    /// The header value.
    public var encoded: String {
        Base64.encodeURL(Self.canonicalJSON(of: fields, keys: Self.allFields))
    }

    /// Parses a header value (hostile input: size-capped, closed set of string fields).
    public init(encoded text: String) throws {
        guard text.utf8.count <= 8192, let bytes = Base64.decodeURL(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw MLSecError.malformed("the receipt is not base64url")
        }
        let value = try JSONParser(limits: .init(maxDepth: 2, maxStringBytes: 1024, maxContainerCount: 16)).parse(bytes, context: "receipt")
        guard let members = value.objectValue else { throw MLSecError.malformed("the receipt is not a JSON object") }
        var fields: [String: String] = [:]
        for (key, member) in members {
            guard Self.signedFields.contains(key) || key == "signature", let text = member.stringValue else {
                throw MLSecError.malformed("the receipt has an unexpected field \"\(key.prefix(40))\"")
            }
            fields[key] = text
        }
        for key in Self.signedFields + ["signature"] where fields[key] == nil {
            throw MLSecError.malformed("the receipt has no \(key)")
        }
        self.fields = fields
        // Only the one canonical encoding is a receipt: a re-encoded copy would verify but no longer match the
        // receipt digest the audit log recorded.
        guard Self.canonicalJSON(of: fields, keys: Self.allFields) == bytes,
            Base64.encodeURL(bytes) == text.trimmingCharacters(in: .whitespacesAndNewlines)
        else {
            throw MLSecError.malformed("the receipt is not in its canonical encoding (sorted keys, no whitespace, unpadded base64url)")
        }
    }

    package init(fields: [String: String]) { self.fields = fields }

    /// Verifies the signature with `key`, and optionally that the receipt covers these exact request and
    /// response bodies.
    /// - Throws: `MLSecError` (verificationFailed) naming what does not match.
    public func verify(with key: ModelVerifyingKey, request: [UInt8]? = nil, response: [UInt8]? = nil) throws {
        guard let signature = fields["signature"].flatMap(Base64.decodeURL),
            key.isValidSignature(signature, for: Self.signedBytes(fields))
        else { throw MLSecError.verificationFailed("the receipt signature does not verify with this key") }
        if let request, fields["request_sha256"] != Hex.encode(SHA256.hash(data: request)) {
            throw MLSecError.verificationFailed("the request does not match the receipt's request_sha256")
        }
        if let response, fields["response_sha256"] != Hex.encode(SHA256.hash(data: response)) {
            throw MLSecError.verificationFailed("the response does not match the receipt's response_sha256")
        }
    }
}

/// Issues receipts with an Ed25519 key.
public struct ReceiptSigner: Sendable {
    let key: ModelSigningKey
    /// The first 16 hex digits of SHA-256 of the public key (DER SubjectPublicKeyInfo).
    public let keyID: String

    public init(key: ModelSigningKey) {
        self.key = key
        keyID = String(Hex.encode(SHA256.hash(data: Array(key.publicKey.pemRepresentation.utf8))).prefix(16))
    }

    /// A receipt that `model` (name, version and `sha256:` digest) answered `request` with `response`.
    public func issue(model: String, version: String, digest: String, request: [UInt8], response: [UInt8]) throws -> Receipt {
        // Two 64-bit draws (two getrandom calls), not sixteen one-byte draws.
        var random = SystemRandomNumberGenerator()
        let id = [random.next(), random.next()].flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
        var fields = [
            "model": model, "model_version": version, "model_digest": digest,
            "request_sha256": Hex.encode(SHA256.hash(data: request)),
            "response_sha256": Hex.encode(SHA256.hash(data: response)), "time": RFC3339.now(fractional: true),
            "key_id": keyID, "receipt_id": Hex.encode(id),
        ]
        fields["signature"] = Base64.encodeURL(try key.sign(Receipt.signedBytes(fields)))
        return Receipt(fields: fields)
    }
}
