// DSSE: the Dead Simple Signing Envelope's pre-authentication encoding.

/// DSSE v1 helpers.
public enum DSSE {
    /// The in-toto payload type that model signatures use.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// PAE(type, payload) = "DSSEv1" SP len(type) SP type SP len(payload) SP payload, lengths in decimal bytes.
    public static func preAuthenticationEncoding(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        var out = Array("DSSEv1 \(type.count) ".utf8)
        out.append(contentsOf: type)
        out.append(contentsOf: Array(" \(payload.count) ".utf8))
        out.append(contentsOf: payload)
        return out
    }
}
