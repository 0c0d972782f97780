// Tests of the tar reader: Python-written ustar/GNU/PAX archives, hostile headers, Python's tarfile semantics.

import Foundation
import MLSecCore
import MLSecFormats
import Testing

/// One tar header to write; fields can be set to hostile values.
private struct TarSpec {
    var name: String
    var data: [UInt8] = []
    var type: Character = "0"
    var linkName = ""
    /// Declared size when it should differ from `data.count`.
    var size: Int?
    /// Raw 12-byte size field (for base-256).
    var sizeField: [UInt8]?
    var prefix = ""
    var gnuMagic = false
    var corruptChecksum = false

    init(_ name: String, _ data: [UInt8] = [], type: Character = "0") {
        self.name = name
        self.data = data
        self.type = type
    }
}

private func octal(_ value: Int, width: Int) -> [UInt8] {
    let digits = String(value, radix: 8)
    return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
}

private func put(_ bytes: [UInt8], into block: inout [UInt8], at offset: Int, width: Int) {
    for (i, byte) in bytes.prefix(width).enumerated() { block[offset + i] = byte }
}

/// A 512-byte header with a correct (or deliberately wrong) checksum.
private func header(_ spec: TarSpec) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    put(Array(spec.name.utf8), into: &block, at: 0, width: 100)
    put(octal(0o644, width: 8), into: &block, at: 100, width: 8)
    put(octal(0, width: 8), into: &block, at: 108, width: 8)
    put(octal(0, width: 8), into: &block, at: 116, width: 8)
    put(spec.sizeField ?? octal(spec.size ?? spec.data.count, width: 12), into: &block, at: 124, width: 12)
    put(octal(1_700_000_000, width: 12), into: &block, at: 136, width: 12)
    block[156] = spec.type.asciiValue ?? 0
    put(Array(spec.linkName.utf8), into: &block, at: 157, width: 100)
    put(spec.gnuMagic ? Array("ustar  \0".utf8) : Array("ustar\u{0}00".utf8), into: &block, at: 257, width: 8)
    put(Array(spec.prefix.utf8), into: &block, at: 345, width: 155)
    for i in 148..<156 { block[i] = 0x20 }
    var sum = block.reduce(0) { $0 + Int($1) }
    if spec.corruptChecksum { sum += 1 }
    put(octal(sum, width: 7) + [0x20], into: &block, at: 148, width: 8)
    return block
}

/// Header plus data padded to a whole block.
private func member(_ spec: TarSpec) -> [UInt8] {
    let padding = (512 - spec.data.count % 512) % 512
    return header(spec) + spec.data + [UInt8](repeating: 0, count: padding)
}

/// A PAX extended header (`x` or `g`) carrying `records`.
private func pax(_ records: [(String, String)], type: Character = "x") -> [UInt8] {
    var payload: [UInt8] = []
    for (key, value) in records {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while String(length).count + body.utf8.count != length { length += 1 }
        payload += Array("\(length)\(body)".utf8)
    }
    return member(TarSpec("././@PaxHeader", payload, type: type))
}

private let endMarker = [UInt8](repeating: 0, count: 1024)
private let body = Array("tensor bytes\n".utf8)

private func kinds(_ archive: TarArchive) -> Set<TarAnomaly> { Set(archive.findings.map(\.kind)) }

// MARK: - Python-written archives

@Suite("Tar archives written by Python")
struct TarInteropTests {
    @Test(arguments: ["python_ustar.tar", "python_gnu.tar", "python_pax.tar"])
    func pythonArchive(_ name: String) throws {
        let text = try archiveFixture("text.txt")
        let archive = try TarArchive(path: archiveFixturePath(name))
        #expect(kinds(archive) == [.symlink, .hardlink], "\(archive.findings)")
        let names = archive.entries.map(\.name)
        #expect(
            Array(names.prefix(5)) == [
                "checkpoint", "checkpoint/pickle", "checkpoint/tensors", "checkpoint/link", "checkpoint/hard",
            ])
        #expect(archive.entries.map(\.kind).prefix(5) == [.directory, .file, .file, .symbolicLink, .hardLink])
        let pickle = try #require(archive.entryAsPythonReads("checkpoint/pickle"))
        #expect(pickle.size == text.count)
        #expect(try archive.read(pickle, maxBytes: 1 << 20) == text)
        #expect(try archive.read(archive.entries[2], maxBytes: 300) == [UInt8]([0, 1, 2] * 100))
        #expect(archive.entries[3].linkName == "pickle")
        #expect(archive.memberAsPythonReads("checkpoint/link") == pickle)
        #expect(archive.memberAsPythonReads("checkpoint/hard") == pickle)
        #expect(archive.entryAsPythonReads("checkpoint/")?.kind == .directory)
        if name != "python_ustar.tar" {
            let long = "checkpoint/" + String(repeating: "deep/", count: 30) + "storages"
            let entry = try #require(archive.entryAsPythonReads(long))
            #expect(try archive.read(entry, maxBytes: 100) == Array("long name\n".utf8))
        }
        if name == "python_pax.tar" {
            let unicode = try #require(archive.entryAsPythonReads("checkpoint/ünïcode.txt"))
            #expect(unicode.paxHeaders["path"] == "checkpoint/ünïcode.txt")
        }
    }

    @Test func bytesAndFileAgree() throws {
        let fromFile = try TarArchive(path: archiveFixturePath("python_pax.tar"))
        let fromBytes = try TarArchive(bytes: archiveFixture("python_pax.tar"))
        #expect(fromFile.entries == fromBytes.entries)
        #expect(fromFile.findings == fromBytes.findings)
    }

    @Test func streamingInChunks() throws {
        let archive = try TarArchive(path: archiveFixturePath("python_gnu.tar"))
        let pickle = try #require(archive.entryAsPythonReads("checkpoint/pickle"))
        var chunks: [Int] = []
        var all: [UInt8] = []
        try archive.stream(pickle, chunkSize: 512) {
            chunks.append($0.count)
            all += $0
        }
        #expect(chunks.allSatisfy { $0 <= 512 })
        #expect(all == (try archiveFixture("text.txt")))
    }
}

private func * (lhs: [UInt8], rhs: Int) -> [UInt8] { Array([[UInt8]](repeating: lhs, count: rhs).joined()) }

// MARK: - Hostile archives

@Suite("Hostile tar archives")
struct TarHostileTests {
    @Test func pathsAndLinks() throws {
        var symlink = TarSpec("model/escape", type: "2")
        symlink.linkName = "../../etc/passwd"
        var hardlink = TarSpec("model/shadow", type: "1")
        hardlink.linkName = "/etc/shadow"
        let bytes =
            member(TarSpec("../../outside.txt", body)) + member(TarSpec("/etc/cron.d/x", body)) + member(symlink)
            + member(hardlink) + member(TarSpec("dev/tty", type: "3")) + member(TarSpec("dev/sda", type: "4"))
            + member(TarSpec("pipe", type: "6")) + endMarker
        let archive = try TarArchive(bytes: bytes)
        #expect(archive.entries.count == 7)
        #expect(kinds(archive) == [.pathTraversal, .absolutePath, .symlink, .hardlink, .specialFile])
        #expect(archive.findings.filter { $0.kind == .pathTraversal }.count == 2)
        #expect(archive.findings.filter { $0.kind == .absolutePath }.count == 2)
        #expect(archive.findings.filter { $0.kind == .specialFile }.count == 3)
        expectError(.unsupported, "has no data") { _ = try archive.read(archive.entries[2], maxBytes: 100) }
        #expect(archive.memberAsPythonReads("model/escape") == nil)  // target not in the archive
    }

    @Test func duplicatesPythonReadsTheLast() throws {
        let bytes =
            member(TarSpec("pickle", Array("first".utf8))) + member(TarSpec("./pickle", Array("normalised".utf8)))
            + member(TarSpec("pickle", Array("last".utf8))) + endMarker
        let archive = try TarArchive(bytes: bytes)
        #expect(kinds(archive) == [.duplicateName])
        let chosen = try #require(archive.entryAsPythonReads("pickle"))
        #expect(chosen.index == 2)
        #expect(try archive.read(chosen, maxBytes: 10) == Array("last".utf8))
    }

    @Test func linkResolutionLooksOnlyBackwards() throws {
        var link = TarSpec("alias", type: "1")
        link.linkName = "target"
        let bytes =
            member(TarSpec("target", Array("early".utf8))) + member(link)
            + member(TarSpec("target", Array("late".utf8))) + endMarker
        let archive = try TarArchive(bytes: bytes)
        let resolved = try #require(archive.memberAsPythonReads("alias"))
        #expect(try archive.read(resolved, maxBytes: 10) == Array("early".utf8))
    }

    @Test func badChecksum() throws {
        var first = TarSpec("a", body)
        first.corruptChecksum = true
        expectError(.malformed, "not a tar archive", "checksum") {
            _ = try TarArchive(bytes: member(first) + endMarker)
        }

        var second = TarSpec("b", body)
        second.corruptChecksum = true
        let archive = try TarArchive(
            bytes: member(TarSpec("a", body)) + member(second) + member(TarSpec("c", body)) + endMarker)
        #expect(archive.entries.map(\.name) == ["a"])
        #expect(kinds(archive) == [.badChecksum])
    }

    @Test func base256Size() throws {
        var spec = TarSpec("big", body)
        spec.sizeField = [0x80] + [UInt8](repeating: 0, count: 10) + [UInt8(body.count)]
        let archive = try TarArchive(bytes: member(spec) + endMarker)
        #expect(archive.entries[0].size == body.count)
        #expect(try archive.read(archive.entries[0], maxBytes: 100) == body)

        var negative = TarSpec("neg", body)
        negative.sizeField = [UInt8](repeating: 0xff, count: 12)
        expectError(.malformed, "size") { _ = try TarArchive(bytes: member(negative) + endMarker) }

        var huge = TarSpec("huge", body)
        huge.sizeField = [0x80] + [UInt8](repeating: 0xff, count: 11)
        expectError(.malformed) { _ = try TarArchive(bytes: member(huge) + endMarker) }
    }

    @Test func sizeRunningPastTheEnd() throws {
        var spec = TarSpec("cut", body)
        spec.size = 1 << 40
        let archive = try TarArchive(bytes: member(spec))
        #expect(archive.entries.count == 1)
        #expect(kinds(archive) == [.truncated])
        expectError(.malformed, "truncated") { _ = try archive.read(archive.entries[0], maxBytes: Int.max) }
    }

    @Test func paxOverrides() throws {
        let longPath = "storage/" + String(repeating: "x", count: 200)
        let bytes =
            pax([("path", longPath), ("size", String(body.count))])
            + {
                var spec = TarSpec("short", body)
                spec.size = 3  // PAX size wins
                return header(spec) + body + [UInt8](repeating: 0, count: 512 - body.count)
            }() + member(TarSpec("next", body)) + endMarker
        let archive = try TarArchive(bytes: bytes)
        #expect(archive.findings.isEmpty, "\(archive.findings)")
        #expect(archive.entries.map(\.name) == [longPath, "next"])
        #expect(archive.entries[0].size == body.count)
        #expect(archive.entries[0].headerOffset == 0)
        #expect(try archive.read(archive.entries[0], maxBytes: 100) == body)
        #expect(try archive.read(archive.entries[1], maxBytes: 100) == body)
    }

    @Test func globalPaxPath() throws {
        let bytes =
            pax([("path", "everything")], type: "g") + member(TarSpec("a", body)) + member(TarSpec("b", body))
            + endMarker
        let archive = try TarArchive(bytes: bytes)
        #expect(archive.entries.map(\.name) == ["everything", "everything"])
        #expect(kinds(archive) == [.headerMismatch, .duplicateName])
    }

    @Test(arguments: ["5 x\n", "99 path=abc\n", "x path=a\n", "10 =value\n", "8 pathx\n"])
    func malformedPax(_ record: String) throws {
        let bad = member(TarSpec("././@PaxHeader", Array(record.utf8), type: "x"))
        let archive = try TarArchive(
            bytes: member(TarSpec("first", body)) + bad + member(TarSpec("hidden", body)) + endMarker)
        #expect(archive.entries.map(\.name) == ["first"])
        #expect(kinds(archive) == [.headerMismatch])
        expectError(.malformed) { _ = try TarArchive(bytes: bad + member(TarSpec("x", body)) + endMarker) }
    }

    @Test func gnuLongNameAndLink() throws {
        let long = String(repeating: "n", count: 300)
        let target = String(repeating: "t", count: 150)
        let bytes =
            member(TarSpec("././@LongLink", Array(long.utf8) + [0], type: "L"))
            + member(TarSpec("././@LongLink", Array(target.utf8) + [0], type: "K"))
            + {
                var spec = TarSpec("trunc", type: "2")
                spec.linkName = "trunc-target"
                spec.gnuMagic = true
                return member(spec)
            }() + endMarker
        let archive = try TarArchive(bytes: bytes)
        #expect(archive.entries.count == 1)
        #expect(archive.entries[0].name == long)
        #expect(archive.entries[0].linkName == target)
        #expect(kinds(archive) == [.symlink])
    }

    @Test func gnuHeaderWithPrefixBytes() throws {
        var spec = TarSpec("name", body)
        spec.gnuMagic = true
        spec.prefix = "sneaky"
        let archive = try TarArchive(bytes: member(spec) + endMarker)
        #expect(archive.entries[0].name == "sneaky/name")  // as Python's tarfile reads it
        #expect(kinds(archive) == [.headerMismatch])
        var posix = TarSpec("name", body)
        posix.prefix = "dir"
        let ustar = try TarArchive(bytes: member(posix) + endMarker)
        #expect(ustar.entries[0].name == "dir/name")
        #expect(ustar.findings.isEmpty)
    }

    @Test func dataAfterTheEndMarker() throws {
        let hidden = member(TarSpec("hidden.pkl", body))
        let archive = try TarArchive(bytes: member(TarSpec("a", body)) + endMarker + hidden + endMarker)
        #expect(archive.entries.map(\.name) == ["a"])
        #expect(kinds(archive) == [.trailingData])
        #expect(archive.findings[0].message.contains("ignore"))
        // A single zero block followed by a header: Python stops at the first zero block.
        let single = try TarArchive(bytes: member(TarSpec("a", body)) + [UInt8](repeating: 0, count: 512) + hidden)
        #expect(single.entries.count == 1)
        #expect(kinds(single) == [.trailingData])
    }

    @Test func sizeOnADirectoryHidesAMemberFromOtherReaders() throws {
        var directory = TarSpec("dir/", type: "5")
        directory.size = 512
        let inner = header(TarSpec("smuggled.pkl", body))  // read as a header by Python, skipped by GNU tar
        let archive = try TarArchive(
            bytes: header(directory) + inner + body + [UInt8](repeating: 0, count: 512 - body.count) + endMarker)
        #expect(archive.entries.map(\.name) == ["dir", "smuggled.pkl"])
        #expect(kinds(archive) == [.headerMismatch])
    }

    @Test func unusualTypes() throws {
        let archive = try TarArchive(
            bytes: member(TarSpec("volume", type: "V")) + member(TarSpec("sparse", body, type: "S")) + endMarker)
        #expect(archive.entries.map(\.kind) == [.other, .sparse])
        #expect(kinds(archive) == [.unsupportedType])
        expectError(.unsupported) { _ = try archive.read(archive.entries[1], maxBytes: 100) }
    }

    @Test func limits() throws {
        let many = (0..<10).map { member(TarSpec("m\($0)", body)) }.reduce([], +) + endMarker
        let few = try TarArchive(bytes: many, limits: TarLimits(maxEntries: 4))
        #expect(few.entries.count == 4)
        #expect(kinds(few) == [.limit])

        let longName =
            member(TarSpec("././@LongLink", [UInt8](repeating: 0x61, count: 600) + [0], type: "L"))
            + member(TarSpec("x", body)) + endMarker
        #expect(kinds(try TarArchive(bytes: longName, limits: TarLimits(maxNameBytes: 512))) == [.limit])
        #expect(kinds(try TarArchive(bytes: longName, limits: TarLimits(maxExtendedHeaderBytes: 100))) == [.limit])

        let archive = try TarArchive(bytes: member(TarSpec("big", [UInt8](repeating: 7, count: 5000))) + endMarker)
        expectError(.limitExceeded, "5000") { _ = try archive.read(archive.entries[0], maxBytes: 4999) }
        #expect(try archive.read(archive.entries[0], maxBytes: 5000).count == 5000)
    }

    @Test func notATar() throws {
        expectError(.malformed, "shorter") { _ = try TarArchive(bytes: Array("hello".utf8)) }
        expectError(.malformed, "not a tar archive") {
            _ = try TarArchive(bytes: [UInt8](repeating: 0x41, count: 4096))
        }
        let empty = try TarArchive(bytes: endMarker)
        #expect(empty.entries.isEmpty && empty.findings.isEmpty)
        let unterminated = try TarArchive(bytes: member(TarSpec("a", body)))
        #expect(kinds(unterminated) == [.truncated])
        let cut = member(TarSpec("a", body)) + Array(header(TarSpec("b", body)).prefix(100))
        #expect(kinds(try TarArchive(bytes: cut)) == [.truncated])
    }

    @Test func everyFindingKindIsCovered() {
        let covered: Set<TarAnomaly> = [
            .pathTraversal, .absolutePath, .symlink, .hardlink, .specialFile, .duplicateName, .badChecksum,
            .truncated, .trailingData, .headerMismatch, .unsupportedType, .limit,
        ]
        #expect(covered == Set(TarAnomaly.allCases))
    }

    @Test(arguments: ["python_pax.tar", "python_gnu.tar", "python_ustar.tar"])
    func mutatedArchivesNeverCrash(_ name: String) throws {
        let original = try archiveFixture(name)
        var generator = SeededGenerator(state: 0x7a7_0000 &+ UInt64(name.utf8.count))
        var listed = 0
        for _ in 0..<700 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                // Mostly hit the headers, where the parsing happens.
                let block = Int.random(in: 0..<(bytes.count / 512), using: &generator)
                let position = min(bytes.count - 1, block * 512 + Int.random(in: 0..<512, using: &generator))
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes[position] = [0x00, 0x20, 0x37, 0x80, 0xff][Int.random(in: 0..<5, using: &generator)]
                default: bytes.removeSubrange(position..<min(bytes.count, position + 3))
                }
                if bytes.count < 512 { bytes += [UInt8](repeating: 0, count: 512) }
                if Bool.random(using: &generator) {
                    // Repair the checksum of the mutated block so that parsing goes past it.
                    let start = min(block * 512, bytes.count - 512)
                    for i in (start + 148)..<(start + 156) { bytes[i] = 0x20 }
                    let sum = bytes[start..<(start + 512)].reduce(0) { $0 + Int($1) }
                    let field = octal(sum, width: 7) + [0x20]
                    for (i, byte) in field.enumerated() { bytes[start + 148 + i] = byte }
                }
            }
            guard let archive = try? TarArchive(bytes: bytes) else { continue }
            listed += 1
            for entry in archive.entries {
                _ = try? archive.read(entry, maxBytes: 1 << 20)
                _ = archive.memberAsPythonReads(entry.name)
            }
        }
        #expect(listed > 0)
    }
}
