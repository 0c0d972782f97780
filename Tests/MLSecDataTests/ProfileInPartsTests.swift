// ProfileInPartsTests: profiling and validating a file in many parts gives what one pass gives (counts, ranges,
// categories, duplicates and anomalies with their rows in file order; moments to rounding).

import Foundation
import Testing
import MLSecData
import MLSecFormats

struct ProfileInPartsTests {
    static func writeRows(_ rows: Int, seed: UInt64) throws -> URL {
        var rng = Rng(state: seed)
        var text = "x,y,kind,label\n"
        var earlier: [String] = []
        for r in 0..<rows {
            let line: String
            if r % 97 == 96, let copy = earlier.last {
                line = copy                                             // an exact duplicate
            } else {
                let x = r % 50 == 1 ? "" : String(format: "%.6f", rng.normal())
                let y = r % 333 == 2 ? "oops" : String(format: "%.6f", 10 + 3 * rng.normal())
                let kind = ["a", "\"b\"", "c, d"].map { $0 == "c, d" ? "\"c, d\"" : $0 }[Int(rng.next() * 3)]
                line = "\(x),\(y),\(kind),\(Int(rng.next() * 4))"
            }
            earlier.append(line)
            text += line + "\n"
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-parts-\(UUID().uuidString).csv")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func profileInPartsMatchesOnePass() throws {
        let url = try Self.writeRows(20_000, seed: 11)
        defer { try? FileManager.default.removeItem(at: url) }
        let whole = try DatasetSchema.profile(path: url.path, labelColumn: "label", partBytes: 1 << 40)
        let parts = try DatasetSchema.profile(path: url.path, labelColumn: "label", partBytes: 4096)
        #expect(whole.rows == 20_000 && parts.rows == 20_000)
        #expect(whole.duplicateRate == parts.duplicateRate)
        #expect(whole.duplicateRate == Double((0..<20_000).filter { $0 % 97 == 96 }.count) / 20_000)
        #expect(whole.labelShares == parts.labelShares)
        for (a, b) in zip(whole.columns, parts.columns) {
            #expect(a.name == b.name && a.type == b.type && a.missingRate == b.missingRate)
            #expect(a.observedMinimum == b.observedMinimum && a.observedMaximum == b.observedMaximum)
            #expect(a.categories == b.categories)
            if let m1 = a.mean, let m2 = b.mean { #expect(abs(m1 - m2) < 1e-9 * max(1, abs(m1))) }
            if let s1 = a.standardDeviation, let s2 = b.standardDeviation { #expect(abs(s1 - s2) < 1e-9 * max(1, s1)) }
            // Both samples are uniform samples of the same values: their medians agree to sampling error.
            if a.type == .float, a.quantiles.count == 7, b.quantiles.count == 7 { #expect(abs(a.quantiles[3] - b.quantiles[3]) < 0.15 * max(1, abs(a.quantiles[3]))) }
        }
        #expect(whole.columns.map(\.type) == [.float, .string, .categorical, .integer])
        #expect(Set(whole.columns[2].categories?.keys.map { $0 } ?? []) == ["a", "b", "c, d"])
    }

    @Test func validateInPartsMatchesOnePass() throws {
        let reference = try Self.writeRows(5_000, seed: 5)
        let data = try Self.writeRows(20_000, seed: 6)
        defer {
            try? FileManager.default.removeItem(at: reference)
            try? FileManager.default.removeItem(at: data)
        }
        var schema = try DatasetSchema.profile(path: reference.path, labelColumn: "label")
        // Hold x to a narrow range so that many rows are out of range, in every part.
        schema.columns[0].minimum = -1
        schema.columns[0].maximum = 1
        schema.maxDuplicateRate = 0
        let whole = try DataValidation.validate(path: data.path, schema: schema, partBytes: 1 << 40)
        let parts = try DataValidation.validate(path: data.path, schema: schema, partBytes: 2048)
        #expect(whole.rows == parts.rows)
        #expect(whole.anomalies == parts.anomalies)
        let outOfRange = whole.anomalies.first { $0.kind == "out_of_range" }
        #expect(outOfRange?.rows.count == 100 && (outOfRange?.count ?? 0) > 5000)
        #expect(whole.anomalies.contains { $0.kind == "duplicates" && $0.rows.first == 96 })
    }
}
