// Tests for BLAKE2b: RFC 7693 vectors, the official keyed KAT, and cases checked against Python's hashlib.

import Foundation
import Testing
import MLSecCore
import MLSecIntegrity

@Suite("BLAKE2b")
struct BLAKE2bTests {
    /// A keyed known-answer case from the BLAKE2 reference KAT (testvectors/blake2b-kat.txt):
    /// key 00 01 ... 3f, input 00 01 ... (length - 1), 64-byte digest.
    struct KeyedCase: Sendable, CustomTestStringConvertible {
        let length: Int
        let digest: String
        var testDescription: String { "keyed KAT, \(length)-byte input" }
    }

    /// A case whose expected digest came from Python's `hashlib.blake2b(data, digest_size=n)`.
    struct HashlibCase: Sendable, CustomTestStringConvertible {
        let input: String
        let outputByteCount: Int
        let digest: String
        var testDescription: String { "hashlib, \(input.count / 2)-byte input, \(outputByteCount)-byte digest" }
    }

    /// Like `HashlibCase`, for the input `i % 251` (i = 0 ..< length), too long to embed.
    struct PatternCase: Sendable, CustomTestStringConvertible {
        let length: Int
        let outputByteCount: Int
        let digest: String
        var testDescription: String { "hashlib, \(length)-byte pattern, \(outputByteCount)-byte digest" }
    }

    static let keyedCases: [KeyedCase] = [
        KeyedCase(length: 0, digest: "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"),
        KeyedCase(length: 1, digest: "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd"),
        KeyedCase(length: 63, digest: "bd965bf31e87d70327536f2a341cebc4768eca275fa05ef98f7f1b71a0351298de006fba73fe6733ed01d75801b4a928e54231b38e38c562b2e33ea1284992fa"),
        KeyedCase(length: 64, digest: "65676d800617972fbd87e4b9514e1c67402b7a331096d3bfac22f1abb95374abc942f16e9ab0ead33b87c91968a6e509e119ff07787b3ef483e1dcdccf6e3022"),
        KeyedCase(length: 65, digest: "939fa189699c5d2c81ddd1ffc1fa207c970b6a3685bb29ce1d3e99d42f2f7442da53e95a72907314f4588399a3ff5b0a92beb3f6be2694f9f86ecf2952d5b41c"),
        KeyedCase(length: 127, digest: "76d2d819c92bce55fa8e092ab1bf9b9eab237a25267986cacf2b8ee14d214d730dc9a5aa2d7b596e86a1fd8fa0804c77402d2fcd45083688b218b1cdfa0dcbcb"),
        KeyedCase(length: 128, digest: "72065ee4dd91c2d8509fa1fc28a37c7fc9fa7d5b3f8ad3d0d7a25626b57b1b44788d4caf806290425f9890a3a2a35a905ab4b37acfd0da6e4517b2525c9651e4"),
        KeyedCase(length: 129, digest: "64475dfe7600d7171bea0b394e27c9b00d8e74dd1e416a79473682ad3dfdbb706631558055cfc8a40e07bd015a4540dcdea15883cbbf31412df1de1cd4152b91"),
        KeyedCase(length: 255, digest: "142709d62e28fcccd0af97fad0f8465b971e82201dc51070faa0372aa43e92484be1c1e73ba10906d5d1853db6a4106e0a7bf9800d373d6dee2d46d62ef2a461"),
    ]

    /// Random inputs (Python `random.Random(7693)`), hashed by `hashlib.blake2b`.
    static let hashlibCases: [HashlibCase] = [
        HashlibCase(input: "0d", outputByteCount: 64, digest: "f5e25392a404fdde29fff6087777f9087d7c216ad4213030b011c1aabc9c7592ef7b3b8ff318c272a31fe7a827400db89e4932c3cf0808d0cb9388b560336cfe"),
        HashlibCase(input: "8ecdafae29b026ad7d91aff21f98df0f35", outputByteCount: 64, digest: "353c38d094650f48896bb2d2d20f69ea3c6054193a0c3bd6c64eae9d9a717682c23f6cd1a04eeed0155fb905696394723354a8f98b88b3684339eea0b139e917"),
        HashlibCase(input: "2c5125882021c79c22e5fc32f610993f3653fd0da8e8eaf046c7b6bec74e8b87e514276a7874c013c1a6b02be1c3df3280637c424e3c6bc9cdb057f6cc2e66c19b08b751d6cd9183ef2420d00e347b421a14f3282151497fcd9df0bd8a7da4eb4432b3d48d76f462a266df2f377212", outputByteCount: 32, digest: "366dab04ae66b0cae7e9fd58f96518dcef20f900b158fbfcd897f5a095cb819f"),
        HashlibCase(input: "816b637269b123db1f1bfe8fbf1229e53668433c7e17d932a5c1f1e09c0da8c917ca35ac44e2e02b9b3ad690c52f563624009a5c2513a40e0a32960c98626b87875d7202e503467ebdf72069746b88a4557ef85dd873d0b2704082b15244557b007701a742ba33197c0b971ff2610480bfe445ab6a71e5eafe365e1b891c2326", outputByteCount: 64, digest: "e1a5c2d7e10d4cedcfa143e25473459cce66af16319d0bd7f3f16d3ea829989c25356b1cea9af90f8ebcac696b38d59178cc444c376c90de331751cf11e19e66"),
        HashlibCase(input: "cebbe91d9c8475e5de98f75dbec66ac014b0b5eed81a03202a11cd627ecbde5b06833269019a45c6e967f5a09c163b62c22535ebe938460988feb15716914cdf7494b0c91d775b29cac7c79292be8295d866ed030b724417f09d0c6265f5a71e0e2c100be97948d3644ac9f6cb26d42ceed29819dcdbc4ecaf25e2dc8404fe7c21", outputByteCount: 48, digest: "8e15346fb26871fb90a51fb9da42a4087a93c6b2ba61cac48ba1012324562d299ca3d3bd3366a82a090909e3308031ef"),
        HashlibCase(input: "a84080cd6ff5b62a152c4685d3bc69a7e20d6c2b737d7c168eafad67763d753a691d0d0fcd3764eaaf97ef643a1441c294b73800d9cb315ab2f70aca0532a878dc6279c55d8597eae5379deebd49ef6c60e6219ecbf21c63512c1e45b793376942c61b8c5c5c9fd97a0bf9f1fc0e60ac9d5cbf8450724c73a07472e6b66dfe2a3c77787583b06320278190d4f967517fa4b68d15ab7888ed6bb2f6b3016d992ec1829d6940b2e7826fa8dec4df490c188005f20008561c8c7011669b52ac4e2c11a5fa70a9093aef", outputByteCount: 20, digest: "e9dff2f581e45648190c0681ea7e9caf6658a245"),
        HashlibCase(input: "a0f7a916fb9a8d14fc2d9440069ab8a883dcb157141d922f4b8bd771c0b122e70a025fbe90037c91d3d90f4d9b5013584cd7117564ca677d4fb2d48083d6fbef37505915d27cb6a31e188c94aebaeb86523dc795449725ab23e9e45e438c324269747e6d3f272cfd98545585d2fe495d443400fbcc91c00c4a0a252016f92c44c76f72d9165c4b4f14a0d561fde2f0c0ceeead00efa5ef396e7b337e12847e67d6fd8b0592cfe9cdc46c52786c6388ee4c634ba6cddaf9987883984893f45c42fcddcb993297bff4f5c77da317d861544ba2d3d182602520d3d316154717181cdbf6710aed19e546e91118f368451f9dabd75aa957029830ca7fe06d351ef181", outputByteCount: 64, digest: "6f0b6e7cf27fd3e61f6585e6132afed70a473dbad404c658fec557e04d9926d8281f86a2abf1e0baf999daa83c6759c95307be184087420f238f27220125b888"),
        HashlibCase(input: "27de52222c9196920a7a77d9356a0e1f18aa0e1a18880d69ad1682f456adf3325ea34bdc40ccad5a4feb0c31cd7fb55fdc6bba310e81a5f1559cd5f582d975062907dda845cf0d9f2a070df54422378dd1f96fc758d2b5f283e3c3bb5de1210f75268f7f57357817221edea7a2c880c66591c032dddfe18bb18fe15eac4417d2765fd63dd5b21559e5084237e4d456ccb7026b7d0990e1a6445735e319bdeae3876ca419821727a876d080ab6b24f6457fdb9186807f0a0c8746d82b2279d0f3132c784650323d872232d6667d42933ef9c2889429fea497fe10fb3fbc93ba12a1650ab3124fdc6ad9adf9be34334ec839a0fa3814dc75023968a2de02b6cfca0467664b24d3cab13b1670cb8d65249ffa795dd1bf726c3d95e73a564f525e4fbd286cac517d110ceeba0f59", outputByteCount: 1, digest: "16"),
    ]

    static let patternCases: [PatternCase] = [
        PatternCase(length: 1000, outputByteCount: 64, digest: "c11e1c0340bd7e5a1b275f1230c962fad215ecb1391486e74e31b960a2f2996381a5fad092da06841d5f26e38f6ecfeaf441acbcd1c2de61aef121e7927175f5"),
        PatternCase(length: 65536, outputByteCount: 64, digest: "d6d3390ba29d4ea324b3f42d316d70106e4c6a7aa6fc131f8968daaf9fb09488430dac26ccdbe968b51c3d585735feab052cec27a5a035258c383566ac69fd38"),
        PatternCase(length: 1 << 20, outputByteCount: 64, digest: "797c6241704933d0c62cea0793db1dd5c65ffd258f8340d394d2cd26b7bf537046ebb5914fb1fae7635ce1f379fb819abc57ad509c015bb4dba4bc981bb1c446"),
        PatternCase(length: (1 << 20) + 7, outputByteCount: 32, digest: "73a620485a1bbc5ea669f92753cbe3d3c95ce4a25018362f3f5ee963e71f04c1"),
    ]

    @Test("RFC 7693 Appendix A: BLAKE2b-512(\"abc\")")
    func rfcAppendixA() {
        let digest = BLAKE2b.hash(Array("abc".utf8))
        #expect(Hex.encode(digest) == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }

    @Test("BLAKE2b-512 of the empty string")
    func emptyInput() {
        #expect(Hex.encode(BLAKE2b.hash([])) == "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce")
        #expect(Hex.encode(BLAKE2b().finalize()) == Hex.encode(BLAKE2b.hash([])))
    }

    @Test("Official keyed KAT", arguments: keyedCases)
    func keyedKnownAnswer(_ testCase: KeyedCase) {
        let key = (0..<64).map { UInt8($0) }
        let input = (0..<testCase.length).map { UInt8($0) }
        var hasher = BLAKE2b(key: key)
        hasher.update(input)
        #expect(Hex.encode(hasher.finalize()) == testCase.digest)
    }

    @Test("Equal to hashlib.blake2b on random inputs", arguments: hashlibCases)
    func matchesHashlib(_ testCase: HashlibCase) throws {
        let input = try #require(Hex.decode(testCase.input))
        #expect(Hex.encode(BLAKE2b.hash(input, outputByteCount: testCase.outputByteCount)) == testCase.digest)
    }

    @Test("Equal to hashlib.blake2b on long inputs, any split", arguments: patternCases)
    func matchesHashlibOnPatterns(_ testCase: PatternCase) {
        let input = (0..<testCase.length).map { UInt8($0 % 251) }
        #expect(Hex.encode(BLAKE2b.hash(input, outputByteCount: testCase.outputByteCount)) == testCase.digest)
        var generator = SplitMix64(seed: UInt64(testCase.length))
        var hasher = BLAKE2b(outputByteCount: testCase.outputByteCount)
        Self.feedInRandomPieces(input, to: &hasher, generator: &generator)
        #expect(Hex.encode(hasher.finalize()) == testCase.digest)
    }

    @Test("Incremental updates equal one-shot hashing around block boundaries")
    func incrementalSplits() {
        var generator = SplitMix64(seed: 7693)
        for length in [0, 1, 127, 128, 129, 255, 256, 257, 383, 384, 385, 1000] {
            let input = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let expected = BLAKE2b.hash(input)
            var byteByByte = BLAKE2b()
            for byte in input { byteByByte.update([byte]) }
            #expect(byteByByte.finalize() == expected, "byte-by-byte, length \(length)")
            for _ in 0..<5 {
                var hasher = BLAKE2b()
                Self.feedInRandomPieces(input, to: &hasher, generator: &generator)
                #expect(hasher.finalize() == expected, "random split, length \(length)")
            }
        }
    }

    @Test("finalize() leaves the hasher usable")
    func finalizeIsNonMutating() {
        let first = Array("hello, ".utf8)
        let second = Array("world".utf8)
        var hasher = BLAKE2b(outputByteCount: 32)
        hasher.update(first)
        #expect(hasher.finalize() == BLAKE2b.hash(first, outputByteCount: 32))
        #expect(hasher.finalize() == hasher.finalize())
        hasher.update(second)
        #expect(hasher.finalize() == BLAKE2b.hash(first + second, outputByteCount: 32))
    }

    @Test("Digest length is part of the parameter block")
    func truncationIsNotPrefix() {
        let input = Array("abc".utf8)
        let long = BLAKE2b.hash(input, outputByteCount: 64)
        let short = BLAKE2b.hash(input, outputByteCount: 32)
        #expect(short.count == 32)
        #expect(Array(long.prefix(32)) != short)
    }
}

// MARK: - Helpers

extension BLAKE2bTests {
    /// Feeds `input` to `hasher` in pieces of random length (0...300 bytes).
    static func feedInRandomPieces(_ input: [UInt8], to hasher: inout BLAKE2b, generator: inout SplitMix64) {
        var start = 0
        while start < input.count {
            let end = min(input.count, start + Int(generator.next() % 301))
            input[start..<end].withUnsafeBytes { hasher.update($0) }
            start = end
        }
    }
}
