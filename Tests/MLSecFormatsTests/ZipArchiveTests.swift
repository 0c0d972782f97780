// Tests of the zip reader: Python- and PyTorch-written archives, ZIP64, every finding kind, bombs and hostile layouts.

import Foundation
import MLSecCore
import MLSecFormats
import Testing

// MARK: - Helpers


private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

/// CRC-32 (the zip/gzip polynomial), bit by bit: independent of the reader's zlib-based implementation.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
}

/// `data` as deflate stored blocks (RFC 1951 section 3.2.4): valid method-8 data without a compressor.
private func storedDeflate(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var offset = 0
    repeat {
        let n = min(65_535, data.count - offset)
        let final: UInt8 = offset + n == data.count ? 1 : 0
        out += [final] + le16(UInt16(n)) + le16(~UInt16(n)) + data[offset..<(offset + n)]
        offset += n
    } while offset < data.count
    return out
}


/// One entry for ``TestZip``; every header field can be overridden to build inconsistent archives.
private struct TestZipEntry {
    var name: [UInt8]
    var data: [UInt8]
    var method: UInt16
    /// The bytes stored; by default `data` (method 0) or `data` as deflate stored blocks (method 8).
    var payload: [UInt8]?
    var flags: UInt16 = 0
    var versionMadeBy: UInt16 = 0x031e
    var externalAttributes: UInt32 = 0o100644 << 16
    var crc: UInt32?
    var compressedSize: UInt32?
    var uncompressedSize: UInt32?
    var centralExtra: [UInt8] = []
    var localName: [UInt8]?
    var localFlags: UInt16?
    var localMethod: UInt16?
    var localCRC: UInt32?
    var localCompressedSize: UInt32?
    var localUncompressedSize: UInt32?
    var localExtra: [UInt8] = []
    /// Bytes written right after the data (a data descriptor).
    var descriptor: [UInt8] = []
    var localHeaderOffset: UInt32?

    init(_ name: String, _ data: [UInt8] = [], method: UInt16 = 0) {
        self.name = Array(name.utf8)
        self.data = data
        self.method = method
    }

    var storedBytes: [UInt8] { payload ?? (method == 8 ? storedDeflate(data) : data) }
}

/// A tiny zip writer with control over every field that matters to the reader's checks.
private struct TestZip {
    var entries: [TestZipEntry]
    var prefix: [UInt8] = []
    /// `false` writes offsets relative to the end of `prefix` (a self-extractor whose offsets were not adjusted).
    var offsetsIncludePrefix = true
    var comment: [UInt8] = []
    var commentLength: UInt16?
    var trailing: [UInt8] = []
    var entryCount: UInt16?
    var directoryOffset: UInt32?
    /// Write a ZIP64 end record and locator, with 0xFFFF/0xFFFFFFFF in the 32-bit end record.
    var zip64 = false
    var zip64EntryCount: UInt64?
    var zip64LocatorOffset: UInt64?

    init(_ entries: [TestZipEntry]) { self.entries = entries }

    func bytes() -> [UInt8] {
        var out = prefix
        let base = offsetsIncludePrefix ? 0 : prefix.count
        var central: [UInt8] = []
        for e in entries {
            let stored = e.storedBytes
            let crc = e.crc ?? crc32(e.data)
            let compressed = e.compressedSize ?? UInt32(stored.count)
            let uncompressed = e.uncompressedSize ?? UInt32(e.data.count)
            let offset = UInt32(out.count - base)
            let localName = e.localName ?? e.name
            out += le32(0x0403_4b50) + le16(20) + le16(e.localFlags ?? e.flags) + le16(e.localMethod ?? e.method)
            out += le16(0) + le16(0x21) + le32(e.localCRC ?? crc)
            out += le32(e.localCompressedSize ?? compressed) + le32(e.localUncompressedSize ?? uncompressed)
            out += le16(UInt16(localName.count)) + le16(UInt16(e.localExtra.count)) + localName + e.localExtra
            out += stored + e.descriptor
            central += le32(0x0201_4b50) + le16(e.versionMadeBy) + le16(20) + le16(e.flags) + le16(e.method)
            central += le16(0) + le16(0x21) + le32(crc) + le32(compressed) + le32(uncompressed)
            central += le16(UInt16(e.name.count)) + le16(UInt16(e.centralExtra.count)) + le16(0) + le16(0) + le16(0)
            central += le32(e.externalAttributes) + le32(e.localHeaderOffset ?? offset) + e.name + e.centralExtra
        }
        let directoryStart = UInt32(out.count - base)
        out += central
        let count = UInt16(entries.count)
        if zip64 {
            let recordOffset = UInt64(out.count - base)
            out += le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            out += le64(zip64EntryCount ?? UInt64(count)) + le64(zip64EntryCount ?? UInt64(count))
            out += le64(UInt64(central.count)) + le64(UInt64(directoryStart))
            out += le32(0x0706_4b50) + le32(0) + le64(zip64LocatorOffset ?? recordOffset) + le32(1)
        }
        out += le32(0x0605_4b50) + le16(0) + le16(0)
        out += le16(zip64 ? 0xffff : entryCount ?? count) + le16(zip64 ? 0xffff : entryCount ?? count)
        out += le32(zip64 ? 0xffff_ffff : UInt32(central.count))
        out += le32(directoryOffset ?? (zip64 ? 0xffff_ffff : directoryStart))
        out += le16(commentLength ?? UInt16(comment.count)) + comment + trailing
        return out
    }
}

private let text = Array("The quick brown fox jumps over the lazy dog.\n".utf8)


private func kinds(_ archive: ZipArchive) -> Set<ZipAnomaly> { Set(archive.findings.map(\.kind)) }

private func open(_ zip: TestZip, limits: ZipLimits = .init()) throws -> ZipArchive {
    try ZipArchive(bytes: zip.bytes(), limits: limits)
}

// MARK: - Archives written by Python and PyTorch

@Suite("Zip archives written by Python and PyTorch")
struct ZipInteropTests {
    @Test func pythonBasicArchiveFromFile() throws {
        let expected = try archiveFixture("text.txt")
        let archive = try ZipArchive(path: archiveFixturePath("python_basic.zip"))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(
            archive.entries.map(\.name) == [
                "model/", "model/stored.txt", "model/deflated.txt", "model/empty.bin", "model/naïve-ünïcode.txt",
            ])
        #expect(archive.entries[0].isDirectory)
        #expect(!archive.entries[1].isDirectory)
        #expect(archive.entries[1].method == 0)
        #expect(archive.entries[2].method == 8)
        #expect(archive.entries[2].compressedSize < archive.entries[2].uncompressedSize)
        #expect(try archive.read(archive.entries[1], maxBytes: 1 << 20) == expected)
        #expect(try archive.read(archive.entries[2], maxBytes: 1 << 20) == expected)
        #expect(try archive.read(archive.entries[3], maxBytes: 0) == [])
        #expect(try archive.read(archive.entries[4], maxBytes: 100) == Array("grüße\n".utf8))
        #expect(archive.entries[4].flags & 0x0800 != 0)
        #expect(!archive.isZip64)
    }

    @Test func bytesAndFileGiveTheSameListing() throws {
        let fromFile = try ZipArchive(path: archiveFixturePath("python_basic.zip"))
        let fromBytes = try ZipArchive(bytes: archiveFixture("python_basic.zip"))
        #expect(fromFile.entries == fromBytes.entries)
        #expect(fromFile.findings == fromBytes.findings)
    }

    @Test func streamingDeliversBoundedChunks() throws {
        let archive = try ZipArchive(path: archiveFixturePath("python_basic.zip"))
        for entry in archive.entries[1...2] {
            var collected: [UInt8] = []
            var largest = 0
            try archive.stream(entry, chunkSize: 100) { chunk in
                largest = max(largest, chunk.count)
                collected.append(contentsOf: chunk)
            }
            #expect(largest <= 100)
            #expect(collected == (try archiveFixture("text.txt")))
        }
    }

    @Test func pythonForceZip64LocalHeaders() throws {
        let archive = try ZipArchive(path: archiveFixturePath("python_zip64.zip"))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(archive.entries.count == 2)
        for entry in archive.entries {
            #expect(try archive.read(entry, maxBytes: 1 << 20) == (try archiveFixture("text.txt")))
        }
    }

    @Test func pythonDataDescriptors() throws {
        let archive = try ZipArchive(path: archiveFixturePath("python_descriptor.zip"))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        for entry in archive.entries {
            #expect(entry.flags & 0x0008 != 0)
            #expect(try archive.read(entry, maxBytes: 1 << 20) == (try archiveFixture("text.txt")))
        }
    }

    @Test func bzip2AndLZMAMethods() throws {
        let archive = try ZipArchive(path: archiveFixturePath("python_methods.zip"))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(archive.entries.map(\.method) == [12, 14])
        for entry in archive.entries {
            #expect(try archive.read(entry, maxBytes: 1 << 20) == (try archiveFixture("text.txt")))
        }
    }

    @Test func torchSaveCheckpoint() throws {
        let archive = try ZipArchive(path: archiveFixturePath("torch_small.pt"))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(archive.pyTorchArchiveName == "archive")
        let pickle = try #require(archive.pyTorchRecord("data.pkl"))
        #expect(pickle.name == "archive/data.pkl")
        let data = try archive.read(pickle, maxBytes: 1 << 20)
        #expect(data.first == 0x80)  // pickle protocol opcode
        #expect(try archive.read(#require(archive.pyTorchRecord("version")), maxBytes: 16) == Array("3\n".utf8))
        #expect(try archive.read(#require(archive.pyTorchRecord("data/0")), maxBytes: 1024).count == 24)
        #expect(archive.pyTorchRecord("missing") == nil)
        #expect(archive.isZip64)  // PyTorch's writer always adds the ZIP64 end records
    }

    private struct DuplicateCases: Decodable {
        struct Case: Decodable {
            var names: [String]
            var torchReads: Int
        }
        var torch: String
        var lookup: String
        var cases: [Case]
    }

    /// Ground truth from `torch.load` (PyTorch 1.13, miniz) on archives with several same-named data.pkl entries.
    @Test func duplicatesResolveAsTorchLoadDoes() throws {
        let json = try archiveFixture("pytorch_duplicates.json")
        let cases = try JSONDecoder().decode(DuplicateCases.self, from: Data(json))
        #expect(cases.cases.count >= 100)
        var firstOrLast = (first: 0, last: 0, neither: 0)
        for (number, item) in cases.cases.enumerated() {
            let zip = TestZip(item.names.map { TestZipEntry($0, Array("x".utf8)) })
            let archive = try open(zip)
            let chosen = try #require(archive.entryAsPyTorchReads(cases.lookup), "case \(number)")
            #expect(chosen.index == item.torchReads, "case \(number): \(item.names)")
            let candidates = item.names.indices.filter { item.names[$0].lowercased() == cases.lookup }
            if item.torchReads == candidates.first {
                firstOrLast.first += 1
            } else if item.torchReads == candidates.last {
                firstOrLast.last += 1
            } else {
                firstOrLast.neither += 1
            }
        }
        // The pick is neither consistently the first nor the last duplicate: it follows miniz's heap sort.
        #expect(firstOrLast.first > 0 && firstOrLast.last > 0)
    }

    @Test func pyTorchLookupIsASCIICaseInsensitive() throws {
        let archive = try open(
            TestZip([TestZipEntry("archive/version", Array("3\n".utf8)), TestZipEntry("archive/DATA.PKL")]))
        #expect(archive.entryAsPyTorchReads("archive/data.pkl")?.index == 1)
        #expect(archive.entryAsPyTorchReads("archive/data.pk") == nil)
        #expect(archive.entryAsPyTorchReads("archive/data.pkl\0junk")?.index == 1)
    }
}

// MARK: - Findings

@Suite("Zip findings")
struct ZipFindingTests {
    @Test func cleanArchiveHasNoFindings() throws {
        let archive = try open(TestZip([TestZipEntry("a.txt", text), TestZipEntry("b.txt", text, method: 8)]))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(try archive.read(archive.entries[1], maxBytes: 1000) == text)
    }

    @Test(arguments: ["../evil.txt", "a/../../b", "a\\..\\..\\b", "x/.."])
    func pathTraversal(_ name: String) throws {
        let archive = try open(TestZip([TestZipEntry(name, text)]))
        #expect(kinds(archive).contains(.pathTraversal))
        #expect(archive.findings.first { $0.kind == .pathTraversal }?.entryName == name)
    }

    @Test(arguments: ["/etc/passwd", "\\Windows\\x", "C:\\x.txt", "c:x", "\\\\server\\share\\x"])
    func absolutePath(_ name: String) throws {
        #expect(kinds(try open(TestZip([TestZipEntry(name, text)]))).contains(.absolutePath))
    }

    @Test func harmlessNamesAreNotPaths() throws {
        let archive = try open(TestZip([TestZipEntry("a..b/c..", text), TestZipEntry("dir/.hidden", text)]))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
    }

    @Test func symlink() throws {
        var link = TestZipEntry("model/link", Array("/etc/passwd".utf8))
        link.externalAttributes = 0o120777 << 16
        let archive = try open(TestZip([link]))
        #expect(archive.entries[0].isSymlink)
        #expect(kinds(archive) == [.symlink])
    }

    @Test func duplicateNames() throws {
        let exact = try open(TestZip([TestZipEntry("a.txt", text), TestZipEntry("b.txt"), TestZipEntry("a.txt")]))
        #expect(exact.findings.filter { $0.kind == .duplicateName }.count == 1)
        let message = try #require(exact.findings.first?.message)
        #expect(message.contains("0, 2") && message.contains("PyTorch (miniz) reads record"))

        for (a, b) in [("a.txt", "./a.txt"), ("dir/a", "dir\\a"), ("dir//a", "dir/./a")] {
            let normalized = try open(TestZip([TestZipEntry(a, text), TestZipEntry(b, text)]))
            #expect(kinds(normalized) == [.duplicateName], "\(a) vs \(b)")
        }
        // Case is not folded.
        #expect(try open(TestZip([TestZipEntry("A.txt"), TestZipEntry("a.txt")])).findings.isEmpty)
    }

    @Test func localHeaderDisagreements() throws {
        var renamed = TestZipEntry("safe.txt", text)
        renamed.localName = Array("evil.txt".utf8)
        var remethod = TestZipEntry("m.txt", text)
        remethod.localMethod = 8
        var resized = TestZipEntry("s.txt", text)
        resized.localUncompressedSize = 1
        var reflagged = TestZipEntry("f.txt", text)
        reflagged.localFlags = 0x0800
        for entry in [renamed, remethod, resized, reflagged] {
            let archive = try open(TestZip([entry]))
            #expect(
                kinds(archive) == [.headerMismatch],
                "\(String(decoding: entry.name, as: UTF8.self)): \(archive.findings)")
        }
    }

    @Test func dataDescriptorZeroesLocalSizesLegitimately() throws {
        var entry = TestZipEntry("d.txt", text, method: 8)
        entry.flags = 0x0008
        entry.localCRC = 0
        entry.localCompressedSize = 0
        entry.localUncompressedSize = 0
        let stored = entry.storedBytes
        entry.descriptor = le32(0x0807_4b50) + le32(crc32(text)) + le32(UInt32(stored.count)) + le32(UInt32(text.count))
        let archive = try open(TestZip([entry, TestZipEntry("after.txt", text)]))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(try archive.read(archive.entries[0], maxBytes: 1000) == text)
        #expect(try archive.read(archive.entries[1], maxBytes: 1000) == text)

        // Without the signature (it is optional) as well.
        entry.descriptor = le32(crc32(text)) + le32(UInt32(stored.count)) + le32(UInt32(text.count))
        #expect(try open(TestZip([entry])).findings.isEmpty)

        // A descriptor that disagrees with the central directory.
        entry.descriptor = le32(crc32(text)) + le32(UInt32(stored.count)) + le32(1)
        #expect(kinds(try open(TestZip([entry]))) == [.headerMismatch])
    }

    @Test func flagTricks() throws {
        var decoy = TestZipEntry("plain.txt", text)
        decoy.flags = 0x0001
        let decoyArchive = try open(TestZip([decoy]))
        #expect(kinds(decoyArchive) == [.flagTrick, .encrypted])

        var badUTF8 = TestZipEntry("x", text)
        badUTF8.name = [0x61, 0xff, 0xfe]
        badUTF8.flags = 0x0800
        #expect(kinds(try open(TestZip([badUTF8]))) == [.flagTrick])

        var unflagged = TestZipEntry("grüße.txt", text)
        unflagged.flags = 0
        let archive = try open(TestZip([unflagged]))
        #expect(kinds(archive) == [.flagTrick])
        #expect(archive.entries[0].name == "gr├╝├ƒe.txt")  // code page 437, as Python's zipfile decodes it

        // Every high byte, decoded as Python's cp437 codec does (bytes 0x80...0xFF are not valid UTF-8 here).
        var codePage = TestZipEntry("x", text)
        codePage.name = Array(0x80...0xff)
        let codePageArchive = try open(TestZip([codePage]))
        #expect(codePageArchive.findings.isEmpty)
        #expect(codePageArchive.entries[0].name == "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐"
            + "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{A0}")

        var nul = TestZipEntry("a.txt", text)
        nul.name = Array("a.txt\0.exe".utf8)
        #expect(kinds(try open(TestZip([nul]))) == [.flagTrick])
    }

    @Test func encryptedEntry() throws {
        var entry = TestZipEntry("secret.bin", text)
        entry.flags = 0x0001
        entry.payload = [UInt8](repeating: 0xaa, count: 12) + text
        let archive = try open(TestZip([entry]))
        #expect(kinds(archive) == [.encrypted])
        #expect(archive.entries[0].isEncrypted)
        expectError(.unsupported, "encrypted") { _ = try archive.read(archive.entries[0], maxBytes: 1000) }
    }

    @Test func compressionBombByRatio() throws {
        var entry = TestZipEntry("bomb.bin", text, method: 8)
        entry.uncompressedSize = 0xffff_0000
        let archive = try open(TestZip([entry]))
        #expect(kinds(archive).contains(.compressionBomb))
    }

    @Test func compressionBombByTotal() throws {
        let entries = (0..<5).map { TestZipEntry("e\($0)", text) }
        let archive = try open(TestZip(entries), limits: ZipLimits(maxTotalUncompressed: 4 * text.count))
        #expect(kinds(archive) == [.compressionBomb])
        #expect(archive.findings[0].entryName == nil)
    }

    @Test func realDeflateBombIsReportedAndRefusedWithoutInflating() throws {
        let archive = try ZipArchive(path: archiveFixturePath("bomb_1000x.zip"))
        let entry = archive.entries[0]
        #expect(entry.uncompressedSize == 20 << 20)
        #expect(entry.uncompressedSize > entry.compressedSize * 1000)
        #expect(kinds(archive) == [.compressionBomb])
        let start = ContinuousClock.now
        expectError(.limitExceeded, "20971520") { _ = try archive.read(entry, maxBytes: 1 << 20) }
        #expect(ContinuousClock.now - start < .seconds(1))
        // Proof that nothing was decoded: the same declared sizes over garbage data fail on the size, not the data.
        var garbage = TestZipEntry("bomb/zeros.bin", [], method: 8)
        garbage.payload = [UInt8](repeating: 0xff, count: entry.compressedSize)
        garbage.uncompressedSize = UInt32(entry.uncompressedSize)
        let lying = try open(TestZip([garbage]))
        expectError(.limitExceeded) { _ = try lying.read(lying.entries[0], maxBytes: 1 << 20) }
        expectError(.malformed) { _ = try lying.read(lying.entries[0], maxBytes: 20 << 20) }
        // Within an explicit budget it does inflate, and the CRC matches.
        #expect(try archive.read(entry, maxBytes: 20 << 20).allSatisfy { $0 == 0 })
    }

    @Test func lyingSizeStopsInflationAtTheDeclaredSize() throws {
        let bomb = try ZipArchive(path: archiveFixturePath("bomb_1000x.zip"))
        let raw = try archiveFixture("bomb_1000x.zip")
        let source = bomb.entries[0]
        var entry = TestZipEntry("small.bin", [], method: 8)
        entry.payload = Array(raw[source.dataOffset..<(source.dataOffset + source.compressedSize)])
        entry.uncompressedSize = 1000
        entry.crc = 0
        let archive = try open(TestZip([entry]))
        var delivered = 0
        expectError(.malformed, "more than its declared 1000 bytes") {
            try archive.stream(archive.entries[0], chunkSize: 256) { delivered += $0.count }
        }
        #expect(delivered <= 1000)
    }

    @Test func overlappingEntries() throws {
        // The second central record points at the first entry's local header.
        var second = TestZipEntry("second.txt", text)
        second.localHeaderOffset = 0
        let archive = try open(TestZip([TestZipEntry("first.txt", text), second]))
        #expect(kinds(archive).contains(.overlappingEntries))
        #expect(kinds(archive).contains(.headerMismatch))  // local name differs from the second record's
    }

    @Test func dataOverlappingTheCentralDirectory() throws {
        var entry = TestZipEntry("a.txt", text)
        entry.compressedSize = UInt32(text.count + 40)
        entry.uncompressedSize = UInt32(text.count + 40)
        entry.localCompressedSize = UInt32(text.count)
        entry.localUncompressedSize = UInt32(text.count)
        let archive = try open(TestZip([entry]))
        #expect(kinds(archive).contains(.overlappingEntries))
    }

    @Test func prependedData() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.prefix = Array("#!/bin/sh\nexit 0\n".utf8)
        let archive = try open(zip)
        #expect(kinds(archive) == [.prependedData])
        #expect(try archive.read(archive.entries[0], maxBytes: 1000) == text)
    }

    @Test func selfExtractorOffsetsAreShifted() throws {
        var zip = TestZip([TestZipEntry("a.txt", text), TestZipEntry("b.txt", text, method: 8)])
        zip.prefix = [UInt8](repeating: 0x90, count: 300)
        zip.offsetsIncludePrefix = false
        let archive = try open(zip)
        #expect(kinds(archive) == [.prependedData])
        #expect(archive.findings[0].message.contains("shifted by 300"))
        #expect(archive.entries[0].localHeaderOffset == 300)
        for entry in archive.entries { #expect(try archive.read(entry, maxBytes: 1000) == text) }
    }

    @Test func trailingData() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.comment = Array("comment".utf8)
        zip.trailing = Array("appended payload".utf8)
        let archive = try open(zip)
        #expect(kinds(archive) == [.trailingData])
    }

    @Test func multipleEndRecords() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        // A second, bogus end record hidden in the comment: miniz and Python pick the last signature.
        let fake = le32(0x0605_4b50) + [UInt8](repeating: 0, count: 18)
        zip.comment = fake
        let archive = try open(zip)
        #expect(kinds(archive).contains(.multipleEOCD))
        #expect(archive.entries.isEmpty)  // the fake, empty end record is the one lenient readers use
    }

    @Test func unsupportedMethod() throws {
        var entry = TestZipEntry("d64.bin", text)
        entry.method = 9
        entry.payload = text
        let archive = try open(TestZip([entry]))
        #expect(kinds(archive) == [.unsupportedMethod])
        expectError(.unsupported, "method 9") { _ = try archive.read(archive.entries[0], maxBytes: 1000) }
    }

    @Test func crcMismatch() throws {
        var entry = TestZipEntry("tampered.txt", text)
        entry.crc = crc32(text) ^ 1
        var deflated = TestZipEntry("tampered.z", text, method: 8)
        deflated.crc = 12345
        let archive = try open(TestZip([entry, deflated]))
        #expect(archive.findings.isEmpty)
        for item in archive.entries {
            expectError(.malformed, "CRC-32 mismatch", item.name) { _ = try archive.read(item, maxBytes: 1000) }
        }
        let verified = archive.verifyEntries(maxBytes: 1 << 20)
        #expect(verified.map(\.kind) == [.crcMismatch, .crcMismatch])
        #expect(verified.map(\.entryName) == ["tampered.txt", "tampered.z"])
    }

    @Test func limits() throws {
        let entries = (0..<10).map { TestZipEntry("e\($0)", text) }
        let few = try open(TestZip(entries), limits: ZipLimits(maxEntries: 3))
        #expect(few.entries.count == 3)
        #expect(kinds(few) == [.limit])

        let long = try open(
            TestZip([TestZipEntry("ok"), TestZipEntry(String(repeating: "n", count: 300))]),
            limits: ZipLimits(maxNameBytes: 200))
        #expect(long.entries.count == 1)
        #expect(kinds(long) == [.limit])

        var big = TestZipEntry("big.bin", text)
        big.uncompressedSize = 5000
        big.compressedSize = 5000
        big.payload = [UInt8](repeating: 1, count: 5000)
        let perEntry = try open(TestZip([big]), limits: ZipLimits(maxEntryUncompressed: 4096))
        #expect(kinds(perEntry).contains(.limit))
        expectError(.limitExceeded, "per-entry limit") { _ = try perEntry.read(perEntry.entries[0], maxBytes: 1 << 20) }
    }

    @Test func everyFindingKindIsCovered() {
        // Kept in step with the tests above: each kind has at least one test that produces it.
        let covered: Set<ZipAnomaly> = [
            .pathTraversal, .absolutePath, .symlink, .duplicateName, .headerMismatch, .flagTrick, .compressionBomb,
            .encrypted, .overlappingEntries, .prependedData, .trailingData, .multipleEOCD, .unsupportedMethod,
            .crcMismatch, .limit,
        ]
        #expect(covered == Set(ZipAnomaly.allCases))
    }
}

// MARK: - Hostile structure

@Suite("Hostile zip structure")
struct ZipHostileTests {
    private func expectMalformed(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        expectError(.malformed, sourceLocation: sourceLocation) { _ = try ZipArchive(bytes: bytes) }
    }

    @Test func notAZip() {
        expectMalformed([])
        expectMalformed(Array("PK".utf8))
        expectMalformed([UInt8](repeating: 0x41, count: 100_000))
    }

    @Test func emptyArchive() throws {
        let archive = try open(TestZip([]))
        #expect(archive.entries.isEmpty)
        #expect(archive.findings.isEmpty)
        #expect(archive.entryAsPyTorchReads("x") == nil)
        #expect(archive.pyTorchArchiveName == nil)
    }

    @Test func truncatedFiles() throws {
        let bytes = try archiveFixture("python_basic.zip")
        for cut in stride(from: 0, to: bytes.count - 1, by: 7) {
            // Cutting anywhere removes at least the end record's last byte: never a readable zip.
            expectMalformed(Array(bytes[0..<cut]))
        }
    }

    @Test func truncatedEntryData() throws {
        // Central directory intact, but an entry's size runs past the end of the file.
        var entry = TestZipEntry("a.txt", text)
        entry.compressedSize = 0x7fff_0000
        entry.uncompressedSize = 0x7fff_0000
        let archive = try open(TestZip([entry]))
        #expect(kinds(archive).contains(.headerMismatch))
        expectError(.malformed, "truncated") { _ = try archive.read(archive.entries[0], maxBytes: Int.max) }
    }

    @Test func hugeCommentLength() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.commentLength = 0xffff
        let archive = try open(zip)
        #expect(archive.entries.count == 1)
        #expect(kinds(archive) == [.headerMismatch])
        #expect(try archive.read(archive.entries[0], maxBytes: 1000) == text)
    }

    @Test func centralDirectoryOffsetTooSmallIsReadAsShifted() throws {
        // An offset below the real one is what prepended data looks like: Python's zipfile shifts every offset.
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.directoryOffset = 5
        let archive = try open(zip)
        #expect(kinds(archive).isSuperset(of: [.prependedData, .headerMismatch]))
        #expect(!archive.entries[0].hasLocalHeader)
    }

    @Test func centralDirectoryOutsideTheFile() {
        for offset: UInt32 in [0xffff_fff0, 0x7fff_ffff, 0x1000] {
            var zip = TestZip([TestZipEntry("a.txt", text)])
            zip.directoryOffset = offset
            expectMalformed(zip.bytes())
        }
    }

    @Test func entryCountOfFFFFWithZip64() throws {
        var zip = TestZip((0..<3).map { TestZipEntry("e\($0).txt", text, method: $0 == 1 ? 8 : 0) })
        zip.zip64 = true
        let archive = try open(zip)
        #expect(archive.isZip64)
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(archive.entries.count == 3)
        for entry in archive.entries { #expect(try archive.read(entry, maxBytes: 1000) == text) }
    }

    /// Sizes and offset deferred to ZIP64 extra fields, as PyTorch (miniz) writes them for members over 4 GiB.
    @Test func zip64ExtraFields() throws {
        var entry = TestZipEntry("archive/data/0", text)
        entry.compressedSize = 0xffff_ffff
        entry.uncompressedSize = 0xffff_ffff
        entry.localHeaderOffset = 0xffff_ffff
        // Central: uncompressed, compressed, local header offset, in that order (APPNOTE 4.5.3).
        entry.centralExtra = le16(0x0001) + le16(24) + le64(UInt64(text.count)) + le64(UInt64(text.count)) + le64(0)
        // Local: both sizes.
        entry.localExtra = le16(0x0001) + le16(16) + le64(UInt64(text.count)) + le64(UInt64(text.count))
        var zip = TestZip([entry])
        zip.zip64 = true
        let archive = try open(zip)
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(archive.entries[0].uncompressedSize == text.count)
        #expect(archive.entries[0].localHeaderOffset == 0)
        #expect(try archive.read(archive.entries[0], maxBytes: 1000) == text)

        // A ZIP64 extra field too short for the values it must carry.
        var short = entry
        short.centralExtra = le16(0x0001) + le16(8) + le64(UInt64(text.count))
        let shortArchive = try open(TestZip([short]))
        #expect(kinds(shortArchive).contains(.headerMismatch))

        // Large declared sizes through ZIP64: reported against the limits, not trusted.
        var huge = entry
        huge.centralExtra = le16(0x0001) + le16(24) + le64(1 << 40) + le64(UInt64(text.count)) + le64(0)
        let hugeArchive = try open(TestZip([huge]))
        #expect(kinds(hugeArchive).isSuperset(of: [.compressionBomb, .limit, .headerMismatch]))
        expectError(.limitExceeded) { _ = try hugeArchive.read(hugeArchive.entries[0], maxBytes: 1 << 20) }
    }

    @Test func zip64DataDescriptor() throws {
        var entry = TestZipEntry("big.bin", text, method: 8)
        entry.flags = 0x0008
        entry.localCRC = 0
        entry.localCompressedSize = 0xffff_ffff
        entry.localUncompressedSize = 0xffff_ffff
        entry.localExtra = le16(0x0001) + le16(16) + le64(0) + le64(0)
        let stored = entry.storedBytes
        entry.descriptor = le32(0x0807_4b50) + le32(crc32(text)) + le64(UInt64(stored.count)) + le64(UInt64(text.count))
        let archive = try open(TestZip([entry, TestZipEntry("next.txt", text)]))
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(try archive.read(archive.entries[0], maxBytes: 1000) == text)
    }

    @Test func unicodePathExtraField() throws {
        var entry = TestZipEntry("safe.txt", text)
        let alternate = Array("../../evil.txt".utf8)
        let field = [UInt8(1)] + le32(crc32(entry.name)) + alternate
        entry.centralExtra = le16(0x7075) + le16(UInt16(field.count)) + field
        let archive = try open(TestZip([entry]))
        #expect(kinds(archive) == [.headerMismatch, .pathTraversal])
        #expect(archive.entries[0].name == "safe.txt")

        // A stale field (CRC of another name) is ignored, as the Info-ZIP specification requires.
        var stale = TestZipEntry("renamed.txt", text)
        stale.centralExtra = entry.centralExtra
        #expect(try open(TestZip([stale])).findings.isEmpty)
    }

    @Test func malformedExtraField() throws {
        var entry = TestZipEntry("a.txt", text)
        entry.centralExtra = le16(0xcafe) + le16(100) + [1, 2, 3]
        #expect(kinds(try open(TestZip([entry]))) == [.headerMismatch])
    }

    @Test func gapBeforeTheEndRecord() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.comment = []
        var bytes = zip.bytes()
        // Insert junk between the central directory and the end record, fixing nothing else.
        let endRecord = bytes.count - 22
        bytes.insert(contentsOf: [UInt8](repeating: 0x20, count: 10), at: endRecord)
        let archive = try ZipArchive(bytes: bytes)
        #expect(kinds(archive) == [.prependedData])
        #expect(try archive.read(archive.entries[0], maxBytes: 1000) == text)
    }

    @Test func zip64EntryCountLargerThanTheDirectory() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.zip64 = true
        zip.zip64EntryCount = UInt64.max
        let archive = try open(zip)
        #expect(archive.entries.count == 1)
        #expect(kinds(archive).isSuperset(of: [.limit, .headerMismatch]))
    }

    @Test func zip64LocatorPointingNowhere() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.zip64 = true
        zip.zip64LocatorOffset = 0xffff_ffff_ffff
        // The record is still just before the locator, where Python looks.
        let archive = try open(zip)
        #expect(kinds(archive) == [.headerMismatch])
        #expect(archive.entries.count == 1)

        var broken = zip.bytes()
        // Destroy the ZIP64 end record's signature too: the 32-bit record defers to it, so nothing is readable.
        let recordOffset = broken.count - 22 - 20 - 56
        broken[recordOffset] = 0
        expectMalformed(broken)
    }

    @Test func recordsBeyondTheDeclaredCount() throws {
        var zip = TestZip([TestZipEntry("visible.txt", text), TestZipEntry("hidden.txt", text)])
        zip.entryCount = 1
        let archive = try open(zip)
        #expect(archive.entries.map(\.name) == ["visible.txt", "hidden.txt"])
        #expect(kinds(archive) == [.headerMismatch])
        #expect(archive.entryAsPyTorchReads("hidden.txt") == nil)
        #expect(archive.entryAsPyTorchReads("visible.txt") != nil)
    }

    @Test func fewerRecordsThanDeclared() throws {
        var zip = TestZip([TestZipEntry("a.txt", text)])
        zip.entryCount = 40
        let archive = try open(zip)
        #expect(archive.entries.count == 1)
        #expect(kinds(archive) == [.headerMismatch])
    }

    @Test func localHeaderMissing() throws {
        var entry = TestZipEntry("a.txt", text)
        entry.localHeaderOffset = 0x10_0000
        let archive = try open(TestZip([entry]))
        #expect(!archive.entries[0].hasLocalHeader)
        #expect(kinds(archive).contains(.headerMismatch))
        expectError(.malformed, "no valid local header") { _ = try archive.read(archive.entries[0], maxBytes: 1000) }
    }

    @Test func entryFromAnotherArchiveIsRefused() throws {
        let a = try open(TestZip([TestZipEntry("a.txt", text)]))
        let b = try open(TestZip([TestZipEntry("b.txt", text)]))
        expectError(.usage) { _ = try a.read(b.entries[0], maxBytes: 100) }
    }

    /// Random byte mutations of valid archives: any outcome but a crash is acceptable.
    @Test(arguments: [
        "python_basic.zip", "python_zip64.zip", "python_descriptor.zip", "python_methods.zip", "torch_small.pt",
    ])
    func mutatedArchivesNeverCrash(_ name: String) throws {
        let original = try archiveFixture(name)
        var generator = SeededGenerator(state: 0x5eed_0000 &+ UInt64(name.utf8.count))
        var opened = 0
        for _ in 0..<1000 {
            var bytes = original
            let mutations = Int.random(in: 1...8, using: &generator)
            for _ in 0..<mutations {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                case 2: bytes[position] = [0x00, 0xff, 0x7f, 0x80][Int.random(in: 0..<4, using: &generator)]
                default:
                    if Bool.random(using: &generator) {
                        bytes.removeSubrange(position..<min(bytes.count, position + 4))
                    } else {
                        bytes.insert(contentsOf: [0xff, 0xff, 0xff, 0xff], at: position)
                    }
                }
                if bytes.isEmpty { bytes = [0] }
            }
            guard let archive = try? ZipArchive(bytes: bytes, limits: ZipLimits(maxEntryUncompressed: 1 << 24)) else {
                continue
            }
            opened += 1
            for entry in archive.entries {
                _ = try? archive.read(entry, maxBytes: 1 << 20)
                _ = archive.entryAsPyTorchReads(entry.name)
            }
            _ = archive.verifyEntries(maxBytes: 1 << 20)
            _ = archive.pyTorchRecord("data.pkl")
        }
        #expect(opened > 0)
    }
}
