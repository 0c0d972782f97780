// Tests for BLAKE3: the official test vectors, incremental splits, and the segment (tree-parallel) API.

import Foundation
import Testing
import MLSecCore
import MLSecIntegrity

@Suite("BLAKE3")
struct BLAKE3Tests {
    /// The official `test_vectors.json` of the BLAKE3 repository (see Vectors/SOURCE-blake.md).
    struct VectorFile: Decodable {
        let key: String
        let cases: [VectorCase]
    }

    struct VectorCase: Decodable {
        let inputLength: Int
        let hash: String
        let keyedHash: String

        enum CodingKeys: String, CodingKey {
            case inputLength = "input_len"
            case hash
            case keyedHash = "keyed_hash"
        }
    }

    /// An input `i % 251` (i = 0 ..< length) and its 32-byte digest from the Python `blake3` package.
    struct SegmentCase: Sendable, CustomTestStringConvertible {
        let length: Int
        let digest: String
        var testDescription: String { "\(length) bytes" }
    }

    static let mebibyte = 1 << 20

    static let segmentCases: [SegmentCase] = [
        SegmentCase(length: 1, digest: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"),
        SegmentCase(length: 1024, digest: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"),
        SegmentCase(length: 1025, digest: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"),
        SegmentCase(length: mebibyte, digest: "74cb441fd087764ca9c3694da742ebe30cbeb3060a17009ca81825c7a8d10343"),
        SegmentCase(length: mebibyte + 1, digest: "2f053cd7472cf0cd2f9adaf45c1180255b91b9a865404a63671a0ee5f792ed33"),
        SegmentCase(length: 2 * mebibyte, digest: "96fbba37478c16b7614c890b26832f67b541cf14e69ab8ebf0c739818588c9f1"),
        SegmentCase(length: 3 * mebibyte + 5, digest: "a7bb55bed0c04f58879d1fc1cafb27e14e931f4411fe63baf5b2d5a60357bffb"),
        SegmentCase(length: 4 * mebibyte, digest: "4e94e6f582581a0f3855f3ce504b153e951e65036fe9e2f010b7e25473c54f98"),
        SegmentCase(length: 5 * mebibyte, digest: "54c35c1e2f19bca26898eb1d23bbee04deff9b67f1f0544a3e38423961eb6bd5"),
    ]

    @Test("Official test vectors: hash (32-byte and extended output) and keyed_hash")
    func officialVectors() throws {
        let url = try #require(
            Bundle.module.url(forResource: "blake3_test_vectors", withExtension: "json", subdirectory: "Vectors"))
        let file = try JSONDecoder().decode(VectorFile.self, from: Data(contentsOf: url))
        let key = Array(file.key.utf8)
        try #require(key.count == 32)
        #expect(file.cases.count >= 20)
        for testCase in file.cases {
            let input = Self.pattern(length: testCase.inputLength)
            let extendedLength = testCase.hash.count / 2

            #expect(Hex.encode(BLAKE3.hash(input)) == String(testCase.hash.prefix(64)), "hash, \(testCase.inputLength) bytes")
            var hasher = BLAKE3()
            hasher.update(input)
            #expect(Hex.encode(hasher.finalize(outputByteCount: extendedLength)) == testCase.hash, "extended hash, \(testCase.inputLength) bytes")

            var keyed = BLAKE3(key: key)
            keyed.update(input)
            #expect(Hex.encode(keyed.finalize()) == String(testCase.keyedHash.prefix(64)), "keyed_hash, \(testCase.inputLength) bytes")
            #expect(Hex.encode(keyed.finalize(outputByteCount: extendedLength)) == testCase.keyedHash, "extended keyed_hash, \(testCase.inputLength) bytes")

            var generator = SplitMix64(seed: UInt64(testCase.inputLength))
            var split = BLAKE3(key: key)
            Self.feedInRandomPieces(input, to: &split, generator: &generator)
            #expect(split.finalize(outputByteCount: extendedLength) == keyed.finalize(outputByteCount: extendedLength), "keyed_hash in random pieces, \(testCase.inputLength) bytes")
        }
    }

    @Test("Whole segments through segmentChainingValue, then the tail through update, equal the plain hash", arguments: segmentCases)
    func segmentsThenTail(_ testCase: SegmentCase) {
        let input = Self.pattern(length: testCase.length)
        let sequential = BLAKE3.hash(input)
        #expect(Hex.encode(sequential) == testCase.digest)
        #expect(Self.segmentedHash(input) == sequential)

        // The tail may also arrive in pieces.
        var generator = SplitMix64(seed: UInt64(testCase.length) ^ 0xB1A4E3)
        var hasher = BLAKE3()
        let segmentCount = (input.count - 1) / BLAKE3.segmentByteCount
        input.withUnsafeBytes { bytes in
            for index in 0..<segmentCount {
                let segment = UnsafeRawBufferPointer(rebasing: bytes[Self.segmentRange(index)])
                hasher.append(segment: BLAKE3.segmentChainingValue(segment, segmentIndex: UInt64(index)))
            }
        }
        Self.feedInRandomPieces(Array(input[(segmentCount * BLAKE3.segmentByteCount)...]), to: &hasher, generator: &generator)
        #expect(Hex.encode(hasher.finalize()) == testCase.digest)
    }

    @Test("Segments hashed concurrently, appended in order, equal the plain hash")
    func concurrentSegments() async {
        let input = Self.pattern(length: 5 * Self.mebibyte + 3)
        let segmentCount = (input.count - 1) / BLAKE3.segmentByteCount
        let chainingValues = await withTaskGroup(of: (Int, BLAKE3.ChainingValue).self) { group in
            for index in 0..<segmentCount {
                group.addTask {
                    input.withUnsafeBytes { bytes in
                        let segment = UnsafeRawBufferPointer(rebasing: bytes[Self.segmentRange(index)])
                        return (index, BLAKE3.segmentChainingValue(segment, segmentIndex: UInt64(index)))
                    }
                }
            }
            var results = [BLAKE3.ChainingValue](repeating: BLAKE3.ChainingValue(), count: segmentCount)
            for await (index, cv) in group { results[index] = cv }
            return results
        }
        var hasher = BLAKE3()
        for cv in chainingValues { hasher.append(segment: cv) }
        hasher.update(Array(input[(segmentCount * BLAKE3.segmentByteCount)...]))
        #expect(hasher.finalize() == BLAKE3.hash(input))
    }

    @Test("Incremental updates in random pieces equal one-shot hashing")
    func randomSplits() {
        var generator = SplitMix64(seed: 0xB3)
        let lengths = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 4095, 4096, 4097, 8193, 65_536, 100_000, 1_049_600]
        for length in lengths {
            let input = Self.pattern(length: length)
            let expected = BLAKE3.hash(input)
            for _ in 0..<3 {
                var hasher = BLAKE3()
                Self.feedInRandomPieces(input, to: &hasher, generator: &generator)
                #expect(hasher.finalize() == expected, "random split, \(length) bytes")
            }
        }
        // Byte by byte across a few chunk boundaries.
        let input = Self.pattern(length: 3 * 1024 + 7)
        var hasher = BLAKE3()
        for byte in input { hasher.update([byte]) }
        #expect(hasher.finalize() == BLAKE3.hash(input))
    }

    @Test("Extended output extends the default output; finalize leaves the hasher usable")
    func extendedOutputAndReuse() {
        let first = Self.pattern(length: 5000)
        let second = Self.pattern(length: 3000)
        var hasher = BLAKE3()
        hasher.update(first)
        let short = hasher.finalize()
        let long = hasher.finalize(outputByteCount: 1000)
        #expect(short.count == 32 && long.count == 1000)
        #expect(Array(long.prefix(32)) == short)
        #expect(hasher.finalize(outputByteCount: 0).isEmpty)
        hasher.update(second)
        #expect(hasher.finalize() == BLAKE3.hash(first + second))
    }
}

// MARK: - Helpers

extension BLAKE3Tests {
    /// The test-vector input: `i % 251` for i = 0 ..< length.
    static func pattern(length: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        for index in 0..<length { bytes[index] = UInt8(index % 251) }
        return bytes
    }

    /// Byte range of segment `index`.
    static func segmentRange(_ index: Int) -> Range<Int> {
        (index * BLAKE3.segmentByteCount)..<((index + 1) * BLAKE3.segmentByteCount)
    }

    /// BLAKE3 of a non-empty `input` via the segment API (single thread).
    static func segmentedHash(_ input: [UInt8]) -> [UInt8] {
        let segmentCount = (input.count - 1) / BLAKE3.segmentByteCount
        var hasher = BLAKE3()
        input.withUnsafeBytes { bytes in
            for index in 0..<segmentCount {
                let segment = UnsafeRawBufferPointer(rebasing: bytes[segmentRange(index)])
                hasher.append(segment: BLAKE3.segmentChainingValue(segment, segmentIndex: UInt64(index)))
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[(segmentCount * BLAKE3.segmentByteCount)..<bytes.count]))
        }
        return hasher.finalize()
    }

    /// Feeds `input` to `hasher` in pieces of random length, mostly small (block and chunk
    /// paths), sometimes large (multi-chunk lane paths).
    static func feedInRandomPieces(_ input: [UInt8], to hasher: inout BLAKE3, generator: inout SplitMix64) {
        var start = 0
        while start < input.count {
            let limit: UInt64 = generator.next() % 4 == 0 ? 300_000 : 1_500
            let end = min(input.count, start + Int(generator.next() % (limit + 1)))
            input[start..<end].withUnsafeBytes { hasher.update($0) }
            start = end
        }
    }
}
