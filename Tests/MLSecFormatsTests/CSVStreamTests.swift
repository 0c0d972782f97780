// CSVStreamTests: the splitter's numbers are FastNumber's, and a file read in parts gives the rows of one pass,
// also when a cut falls inside a quoted field that holds line breaks.

import Foundation
import Testing
import MLSecFormats

struct CSVStreamTests {
    /// SplitMix64, deterministic.
    struct Rng {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    /// Number-like fields of every shape the fast path accepts or must hand back: signs, long digit runs, points
    /// at both ends, exponents, spaces, stray letters.
    static func numberLikeField(_ rng: inout Rng) -> String {
        let pieces = ["", "-", "+", "0", "00", "7", "12345678", "123456789012345678", "9007199254740993", ".", "5", "e", "E-3",
                      " ", "x", "000000000000000000000001", "99999999"]
        var out = ""
        for _ in 0..<(1 + rng.next(5)) { out += pieces[rng.next(pieces.count)] }
        return out
    }

    @Test func splitterNumbersAreFastNumbers() throws {
        var rng = Rng(state: 7)
        var fields: [String] = []
        for _ in 0..<20_000 { fields.append(Self.numberLikeField(&rng)) }
        // Six decimals, as data files print them, and extremes of the exact path.
        fields += ["-0.000001", "0.1234567890123456789012", "1.", ".5", "-0", "9007199254740992", "9007199254740993.5", "1.5\r"]
        // The edges of the loop-free path: 6 and 7 integer digits, 7 and 8 fraction digits, 8 and 9 digits in all,
        // 8- and 9-digit integers, signs, a point with nothing after it, a space or a letter after the digits.
        fields += ["-123456.1234567", "123456.12345678", "1234567.5", "+12.345678", "-1.2345678", "12345678", "-123456789",
                   "+7", "-0.0", "7.", "-.5", "3.25 ", "3.25e1", "12x", "00000001.0000001", "999999.9999999"]
        let rows = stride(from: 0, to: fields.count, by: 4).map { fields[$0..<min($0 + 4, fields.count)].joined(separator: ",") }
        let text = Array((rows.joined(separator: "\n") + "\n").utf8)
        var checked = 0
        try CSVStream.forEachRow(bytes: text, context: "test") { _, row in
            for i in 0..<row.count {
                let expected = FastNumber.parse(row.field(i))
                let got = row.numberLiteral(i)
                #expect(got?.value.bitPattern == expected?.bitPattern, "field \(String(decoding: row.field(i), as: UTF8.self))")
                if let got {
                    let literal = row.field(i)
                    #expect(got.isInteger == !literal.contains { $0 == 0x2E || $0 == 0x65 || $0 == 0x45 })
                }
                checked += 1
            }
        }
        #expect(checked == fields.count)
    }

    /// A CSV file with quoted fields holding commas, doubled quotes and line breaks, CRLF and LF rows.
    static func messyFile(rows: Int, seed: UInt64) -> String {
        var rng = Rng(state: seed)
        var out = "a,b,c\n"
        for r in 0..<rows {
            var fields = ["\(r)", "\(rng.next(1000)).\(rng.next(100))"]
            switch rng.next(6) {
            case 0: fields.append("\"line one\nline two, with a comma\"")
            case 1: fields.append("\"say \"\"hi\"\"\"")
            case 2: fields.append("\"\n\n\n\"")
            default: fields.append("plain\(rng.next(10))")
            }
            out += fields.joined(separator: ",") + (rng.next(4) == 0 ? "\r\n" : "\n")
        }
        return out
    }

    @Test func partsGiveTheRowsOfOnePass() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-csvparts-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(Self.messyFile(rows: 3000, seed: 3).utf8).write(to: url)
        var expected: [[String]] = []
        try CSVStream.forEachRow(path: url.path) { index, row in
            if index > 0 { expected.append((0..<row.count).map { row.string($0) }) }
        }
        #expect(expected.count == 3000)
        for partBytes: Int64 in [1, 97, 1000, 4096, 1 << 20] {
            var header: [String] = []
            let parts = try CSVStream.forEachRowInParts(path: url.path, partBytes: partBytes, header: { row in
                header = (0..<row.count).map { row.string($0) }
            }, makeState: { _ in [(Int, [String])]() }) { state, index, row in
                state.append((index, (0..<row.count).map { row.string($0) }))
            }
            #expect(header == ["a", "b", "c"])
            var got: [[String]] = []
            for part in parts {
                for (index, fields) in part.state {
                    #expect(index + part.rowOffset == got.count, "row numbers in file order (parts of \(partBytes) bytes)")
                    got.append(fields)
                }
            }
            #expect(got == expected, "parts of \(partBytes) bytes")
            if partBytes == 1000 { #expect(parts.count == CSVStream.maxParts) }
        }
    }

    @Test func anErrorInALaterPartNamesItsRowInTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-csvparts-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        var text = "a,b\n"
        for r in 0..<2000 { text += "\(r),x\n" }
        text += "2000,\"unclosed\n"
        try Data(text.utf8).write(to: url)
        #expect {
            _ = try CSVStream.forEachRowInParts(path: url.path, partBytes: 512, header: { _ in }, makeState: { _ in 0 }) { n, _, _ in n += 1 }
        } throws: { error in
            "\(error)".contains("row 2002: a quoted field is not closed")
        }
    }

    /// Each field's text and, when it is a number, its value's bits.
    static func describe(_ row: CSVRow) -> [String] {
        (0..<row.count).map { i in row.string(i) + (row.number(i).map { "=\($0.bitPattern)" } ?? "") }
    }

    @Test func rowsThatCrossReadsAreReadWhole() throws {
        // Numbers long enough for the eight-byte digit path, CRLF, CR before the end, quoted line breaks.
        var text = Self.messyFile(rows: 300, seed: 9)
        // Blank lines (LF and CRLF) are rows of one empty field wherever a read ends; only a blank last line is not.
        text += "123456789012,0.1234567890123,\"q\"\r\n\n-98765432.25,7,\"x\"\"y\"\r\n\r\n3,4,5\r"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-csvblocks-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(text.utf8).write(to: url)
        var expected: [[String]] = []
        try CSVStream.forEachRow(bytes: Array(text.utf8), context: "memory") { index, row in
            if index > 0 { expected.append(Self.describe(row)) }
        }
        #expect(expected.count == 305 && expected.filter { $0 == [""] }.count == 2 && expected.last == ["3=4613937818241073152", "4=4616189618054758400", "5=4617315517961601024"])
        for block in [1, 2, 3, 5, 8, 9, 13, 64, 4096] {
            for partBytes: Int64 in [1 << 40, 700] {
                let parts = try CSVStream.forEachRowInParts(path: url.path, partBytes: partBytes, readBlock: block, header: { _ in },
                                                            makeState: { _ in [[String]]() }) { rows, _, row in
                    rows.append(Self.describe(row))
                }
                #expect(parts.flatMap(\.state) == expected, "reads of \(block) bytes, parts of \(partBytes)")
            }
        }
    }

    @Test func blankLinesAreRowsWhereverAReadEnds() throws {
        let text = "a,b\n1,2\n\n3,4\n\r\n5,6\n\n\n"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-csvblank-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(text.utf8).write(to: url)
        let expected = [["1", "2"], [""], ["3", "4"], [""], ["5", "6"], [""]]   // the last blank line is not a row
        var oneRead: [[String]] = []
        try CSVStream.forEachRow(bytes: Array(text.utf8), context: "memory") { index, row in
            if index > 0 { oneRead.append((0..<row.count).map { row.string($0) }) }
        }
        #expect(oneRead == expected)
        for block in 1...24 {
            let parts = try CSVStream.forEachRowInParts(path: url.path, partBytes: 1 << 40, readBlock: block, header: { _ in },
                                                        makeState: { _ in [[String]]() }) { rows, _, row in
                rows.append((0..<row.count).map { row.string($0) })
            }
            #expect(parts.flatMap(\.state) == expected, "reads of \(block) bytes")
        }
    }

    /// Rows, or the error, of `path` read in parts of `partBytes` with reads of `block` bytes.
    static func readInParts(_ path: String, partBytes: Int64, block: Int) -> [[String]] {
        do {
            var header: [String] = []
            let parts = try CSVStream.forEachRowInParts(path: path, partBytes: partBytes, readBlock: block, header: { row in
                header = Self.describe(row)
            }, makeState: { _ in [[String]]() }) { rows, _, row in
                rows.append(Self.describe(row))
            }
            return [header] + parts.flatMap(\.state)
        } catch {
            return [["error: \(error)"]]
        }
    }

    @Test func randomTextReadsAlikeWhateverTheReadsAndParts() throws {
        let pieces = ["a", "1", "-2.5", ",", ",", "\n", "\n", "\r", "\r\n", "\"", "\"\"", " ", "12345678901"]
        var rng = Rng(state: 11)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-csvrandom-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<(1 + rng.next(60)) { text += pieces[rng.next(pieces.count)] }
            try Data(text.utf8).write(to: url)
            let whole = Self.readInParts(url.path, partBytes: 1 << 40, block: 1 << 20)
            for (partBytes, block): (Int64, Int) in [(1 << 40, 1), (1 << 40, 2), (1 << 40, 5), (3, 1), (7, 3), (1, 64)] {
                let got = Self.readInParts(url.path, partBytes: partBytes, block: block)
                #expect(got == whole, "\(text.debugDescription): parts of \(partBytes), reads of \(block)")
            }
        }
    }
}
