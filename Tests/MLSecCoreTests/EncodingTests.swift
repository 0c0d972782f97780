// Tests of hex, Base64, PEM and constant-time comparison.

import MLSecCore
import Testing

@Suite struct EncodingTests {
    @Test func hexRoundTripAndStrictness() {
        #expect(Hex.encode([0x00, 0xab, 0xff]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func base64URLHasNoPaddingAndRoundTrips() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64.encodeURL(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64.decodeURL(text) == bytes)
        }
        #expect(Base64.decodeURL("a") == nil)
        #expect(Base64.decode("!!!!") == nil)
    }

    @Test func pemMatchesOpenSSLLayout() throws {
        let openssl = """
            -----BEGIN PUBLIC KEY-----
            MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE2NT+olnaaica1JTW0AYNQhfmvUyXCEMs
            IrORiAG6psFqJmQXiKXbym9RcFVE4u0B4oBF1XcvQSGCYAb09eDfnMog6pZvRCwP
            iRF6BlgHF2MZ2qazUxxtIXP3gVhyyEZH
            -----END PUBLIC KEY-----

            """
        let blocks = try PEM.decodeAll(openssl, context: "test")
        #expect(blocks.count == 1 && blocks[0].type == "PUBLIC KEY")
        #expect(PEM.encode(type: "PUBLIC KEY", der: blocks[0].der) == openssl)
    }

    @Test func pemRejectsEncryptedAndTruncatedBlocks() {
        #expect(throws: MLSecError.self) {
            try PEM.decodeAll("-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----END PRIVATE KEY-----\n", context: "t")
        }
        #expect(throws: MLSecError.self) { try PEM.decodeAll("-----BEGIN PRIVATE KEY-----\nAAAA\n", context: "t") }
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2], [1, 2, 3]))
    }
}
