// Tests of format detection and bounded decompression: Python-written files, bombs, corruption, mutations.

import Foundation
import MLSecCore
import MLSecFormats
import Testing

/// Each Python-written fixture and its format.
private let samples: [(file: String, format: CompressionFormat)] = [
    ("text.gz", .gzip), ("text.zlib", .zlib), ("text.bz2", .bzip2), ("text.xz", .xz), ("text.lzma", .lzma),
]

// MARK: - Tests

@Suite("Decompressor")
struct DecompressorTests {
    @Test func detectsEveryFormat() throws {
        for sample in samples {
            #expect(Decompressor.detect(try archiveFixture(sample.file)) == sample.format, "\(sample.file)")
        }
        #expect(Decompressor.detect(try archiveFixture("text.txt")) == nil)
        #expect(Decompressor.detect([]) == nil)
        #expect(Decompressor.detect([0x1f]) == nil)
        for second: UInt8 in [0x01, 0x5e, 0x9c, 0xda] {
            #expect(Decompressor.detect([0x78, second]) == .zlib)
        }
        // Wrong header checksum, preset dictionary, or not deflate.
        for pair: [UInt8] in [[0x78, 0x00], [0x78, 0x9d], [0x78, 0xbb], [0x79, 0x9c]] {
            #expect(Decompressor.detect(pair) == nil, "\(pair)")
        }
        #expect(Decompressor.detect(Array("BZh9".utf8)) == .bzip2)
        #expect(Decompressor.detect(Array("BZh0".utf8)) == nil)
        // .lzma: plausible dictionary sizes only, and a known size below 2^48.
        #expect(Decompressor.detect([0x5d, 0, 0, 0x80, 0]) == .lzma)
        #expect(Decompressor.detect([0x5d, 0, 0, 0xc0, 0]) == .lzma)  // 12 MiB = 2^23 + 2^22
        #expect(Decompressor.detect([0x5d, 0, 0, 0x90, 0]) == nil)
        #expect(Decompressor.detect([0x5d, 0, 0, 0, 0]) == nil)
        #expect(Decompressor.detect([0x5d, 0, 0, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8]) == nil)
        #expect(Decompressor.detect([0x5d, 0, 0, 0x80, 0, 1, 2, 3, 4, 5, 6, 0, 0]) == .lzma)
    }

    @Test func sniffsArchives() throws {
        #expect(ArchiveSniffer.is7z([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04]))
        #expect(!ArchiveSniffer.is7z([0x37, 0x7a, 0xbc, 0xaf, 0x27]))
        #expect(!ArchiveSniffer.is7z(try archiveFixture("text.xz")))
        #expect(ArchiveSniffer.isZip(try archiveFixture("python_basic.zip")))
        #expect(!ArchiveSniffer.isZip(try archiveFixture("text.gz")))
        #expect(ArchiveSniffer.isTar(try archiveFixture("python_ustar.tar")))
        #expect(!ArchiveSniffer.isTar([UInt8](repeating: 0, count: 512)))
        #expect(!ArchiveSniffer.isTar(try archiveFixture("text.txt")))
    }

    @Test func decompressesPythonFiles() throws {
        let expected = try archiveFixture("text.txt")
        for sample in samples {
            #expect(
                try Decompressor.decompress(archiveFixture(sample.file), format: sample.format, maxOutput: 1 << 20)
                    == expected,
                "\(sample.file)")
        }
        #expect(try Decompressor.decompress(archiveFixture("multi.gz"), format: .gzip, maxOutput: 1 << 20) == expected)
        let twice = try archiveFixture("text.bz2") + archiveFixture("text.bz2")
        #expect(try Decompressor.decompress(twice, format: .bzip2, maxOutput: 1 << 20) == expected + expected)
        let xzTwice = try archiveFixture("text.xz") + [0, 0, 0, 0] + archiveFixture("text.xz")
        #expect(try Decompressor.decompress(xzTwice, format: .xz, maxOutput: 1 << 20) == expected + expected)
    }

    @Test func streamsFromAFile() throws {
        let expected = try archiveFixture("text.txt")
        for sample in samples {
            var output: [UInt8] = []
            var largest = 0
            let total = try Decompressor.decompress(
                path: archiveFixturePath(sample.file), format: sample.format, maxOutput: 1 << 20,
                chunkSize: 64
            ) { chunk in
                largest = max(largest, chunk.count)
                output += chunk
            }
            #expect(total == expected.count)
            #expect(output == expected)
            #expect(largest <= 64)
        }
    }

    @Test func outputExactlyAtTheLimitIsAccepted() throws {
        let expected = try archiveFixture("text.txt")
        #expect(
            try Decompressor.decompress(archiveFixture("text.gz"), format: .gzip, maxOutput: expected.count).count
                == expected.count)
        expectError(.limitExceeded, "decompressed size exceeds") {
            _ = try Decompressor.decompress(archiveFixture("text.gz"), format: .gzip, maxOutput: expected.count - 1)
        }
    }

    @Test(arguments: [("zeros.gz", CompressionFormat.gzip), ("zeros.bz2", .bzip2), ("zeros.xz", .xz)])
    func bombsStopAtTheLimit(_ file: String, _ format: CompressionFormat) throws {
        let bomb = try archiveFixture(file)
        #expect(bomb.count < 25_000)
        var delivered = 0
        let start = ContinuousClock.now
        expectError(.limitExceeded, "decompressed size exceeds the 1048576-byte limit") {
            try Decompressor.decompress(path: archiveFixturePath(file), format: format, maxOutput: 1 << 20, chunkSize: 1 << 16)
            {
                delivered += $0.count
            }
        }
        #expect(delivered <= 1 << 20)
        #expect(ContinuousClock.now - start < .seconds(2))
        expectError(.limitExceeded) { _ = try Decompressor.decompress(bomb, format: format, maxOutput: 1000) }
        // Given room, the whole 20 MiB comes out.
        #expect(try Decompressor.decompress(bomb, format: format, maxOutput: 20 << 20).count == 20 << 20)
    }

    @Test func corruptAndTruncatedInput() throws {
        for sample in samples {
            let good = try archiveFixture(sample.file)
            expectError(.malformed) {
                _ = try Decompressor.decompress(
                    Array(good.prefix(good.count - 3)), format: sample.format, maxOutput: 1 << 20)
            }
            expectError(.malformed) {
                _ = try Decompressor.decompress(
                    Array(good.prefix(good.count / 2)), format: sample.format, maxOutput: 1 << 20)
            }
            expectError(.malformed) { _ = try Decompressor.decompress([], format: sample.format, maxOutput: 1 << 20) }
            if sample.format != .lzma {  // .lzma has no integrity check: a flipped bit may decode to other bytes
                var flipped = good
                flipped[good.count - 6] ^= 0x55
                expectError(.malformed) {
                    _ = try Decompressor.decompress(flipped, format: sample.format, maxOutput: 1 << 20)
                }
            }
        }
    }

    @Test func trailingGarbageIsMalformed() throws {
        for sample in samples {
            let good = try archiveFixture(sample.file)
            expectError(.malformed) {
                _ = try Decompressor.decompress(
                    good + Array("garbage!".utf8), format: sample.format, maxOutput: 1 << 20)
            }
        }
    }

    @Test func wrongFormatIsMalformed() throws {
        let gzip = try archiveFixture("text.gz")
        for format in [CompressionFormat.zlib, .bzip2, .xz, .lzma] {
            let error = #expect(throws: MLSecError.self) {
                try Decompressor.decompress(gzip, format: format, maxOutput: 1 << 20)
            }
            #expect(error?.code == .malformed || error?.code == .unsupported, "\(format): \(String(describing: error))")
        }
    }

    @Test func usageErrors() throws {
        expectError(.usage) { _ = try Decompressor.decompress([], format: .gzip, maxOutput: -1) }
        expectError(.usage) {
            try Decompressor.decompress(path: archiveFixturePath("text.gz"), format: .gzip, maxOutput: 10, chunkSize: 0) { _ in
            }
        }
        expectError(.io) {
            try Decompressor.decompress(path: "/nonexistent/x.gz", format: .gzip, maxOutput: 10) { _ in }
        }
    }

    @Test(arguments: [
        ("text.gz", CompressionFormat.gzip), ("text.zlib", .zlib), ("text.bz2", .bzip2), ("text.xz", .xz),
        ("text.lzma", .lzma), ("multi.gz", .gzip),
    ])
    func mutatedInputNeverCrashes(_ file: String, _ format: CompressionFormat) throws {
        let original = try archiveFixture(file)
        var generator = SeededGenerator(
            state: 0xdec0_0000 &+ UInt64(file.utf8.count) &* 31 &+ UInt64(format.rawValue.utf8.count))
        for _ in 0..<600 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                if Bool.random(using: &generator) {
                    bytes[position] = UInt8.random(in: 0...255, using: &generator)
                } else {
                    bytes.removeSubrange(position..<min(bytes.count, position + 2))
                }
                if bytes.isEmpty { bytes = [0] }
            }
            _ = Decompressor.detect(bytes)
            _ = try? Decompressor.decompress(bytes, format: format, maxOutput: 1 << 16)
        }
    }
}
