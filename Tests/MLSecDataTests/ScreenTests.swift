// ScreenTests.swift: the poisoning screens on small synthetic data: CSV reading, label flips, duplicates,
// outliers, leaks, and the neighbour search against a direct computation.

import Foundation
import MLSecCore
import MLSecData
import Testing

@Suite struct ScreenTests {
    /// Three well-separated Gaussian blobs in 6 dimensions, 60 rows each, labels "a", "b", "c".
    func blobs(seed: UInt64 = 7) -> (rows: [Float], labels: [String]) {
        var rng = Rng(state: seed)
        var rows: [Float] = []
        var labels: [String] = []
        for (c, name) in ["a", "b", "c"].enumerated() {
            for _ in 0..<60 {
                for f in 0..<6 { rows.append(Float((f % 3 == c ? 6.0 : 0.0) + rng.normal())) }
                labels.append(name)
            }
        }
        return (rows, labels)
    }

    func names(_ d: Int) -> [String] { (0..<d).map { "f\($0)" } }

    @Test func flippedLabelsAreSuspectsAndCleanRowsAreNot() throws {
        var (rows, labels) = blobs()
        let flipped = [3, 70, 150]
        labels[3] = "b"; labels[70] = "c"; labels[150] = "a"
        let report = try DataScreen.screen(try ScreenTable(featureNames: names(6), rows: rows, labels: labels))
        let found = report.suspects.filter { $0.kind == .labelFlip }
        #expect(Set(found.map(\.row)) == Set(flipped))
        #expect(found.first { $0.row == 3 }?.suggestedLabel == "a")
        #expect(found.allSatisfy { $0.score >= 0.85 && $0.score <= 1 })
        rows[0] += 0  // unchanged data: no duplicates
        #expect(report.count(.duplicate) == 0 && report.count(.leak) == 0)
    }

    @Test func exactAndNearDuplicatesNameTheEarlierRow() throws {
        var (rows, labels) = blobs()
        rows += rows[(10 * 6)..<(11 * 6)]          // row 180: an exact copy of row 10
        labels.append(labels[10])
        var near = Array(rows[(100 * 6)..<(101 * 6)])
        near[0] += 0.01                            // row 181: a near copy of row 100
        rows += near
        labels.append(labels[100])
        let report = try DataScreen.screen(try ScreenTable(featureNames: names(6), rows: rows, labels: labels))
        let found = report.suspects.filter { $0.kind == .duplicate }
        #expect(found.map(\.row).sorted() == [180, 181])
        let exact = try #require(found.first { $0.row == 180 })
        #expect(exact.relatedRow == 10 && exact.exact == true && exact.score == 1)
        let nearly = try #require(found.first { $0.row == 181 })
        #expect(nearly.relatedRow == 100 && nearly.exact == false && nearly.score > 0.5 && nearly.score < 1)
    }

    @Test func corruptedRowsAreTheTopOutliers() throws {
        var (rows, labels) = blobs()
        for r in [20, 90] { rows[r * 6 + 4] = 40 }  // one wild value each
        let report = try DataScreen.screen(try ScreenTable(featureNames: names(6), rows: rows, labels: labels))
        let outliers = report.suspects.filter { $0.kind == .outlier }
        #expect(Set(outliers.prefix(2).map(\.row)) == [20, 90])
        #expect(outliers.allSatisfy { ($0.ratio ?? 0) >= 20 })
    }

    @Test func testRowsCopiedFromTheDataAreLeaks() throws {
        let (rows, labels) = blobs()
        let data = try ScreenTable(featureNames: names(6), rows: rows, labels: labels)
        var testRows = blobs(seed: 99).rows
        testRows.replaceSubrange(0..<6, with: rows[(42 * 6)..<(43 * 6)])  // test row 0 = data row 42
        let test = try ScreenTable(featureNames: names(6), rows: testRows, labels: nil)
        var options = DataScreen.Options()
        options.checks = [.leak]
        let report = try DataScreen.screen(data, test: test, options: options)
        #expect(report.suspects.map(\.row) == [0])
        #expect(report.suspects.first?.relatedRow == 42 && report.suspects.first?.kind == .leak)
    }

    @Test func neighbourSearchMatchesDirectDistances() throws {
        var rng = Rng(state: 3)
        let n = 75, d = 11
        let values = (0..<(n * d)).map { _ in Float(rng.normal()) }
        let table = try ScreenTable(featureNames: names(d), rows: values, labels: nil)
        let lists = DataScreen.neighbours(of: table, k: 5, clip: nil)
        // Direct distances on the standardised columns (the data is dense: no column reaches the scale floor).
        let z: [[Double]] = (0..<d).map { c in
            let column = (0..<n).map { Double(values[$0 * d + c]) }
            let mean = column.reduce(0, +) / Double(n)
            let sd = (column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
            return column.map { ($0 - mean) / sd }
        }
        func distance(_ i: Int, _ j: Int) -> Double { (0..<d).map { (z[$0][i] - z[$0][j]) * (z[$0][i] - z[$0][j]) }.reduce(0, +).squareRoot() }
        for i in [0, 37, 74] {
            let direct = (0..<n).filter { $0 != i }.map { (distance(i, $0), $0) }.sorted { $0.0 < $1.0 }.prefix(5)
            #expect(lists[i].map(\.row) == direct.map(\.1))
            #expect(abs((lists[i].first?.distance ?? 0) - (direct.first?.0 ?? 0)) < 1e-4)
        }
    }

    @Test func csvReaderEncodesImputesAndRefuses() throws {
        let csv = "a, colour ,\"b\",label\n1,red,2.5,x\n,blue,\"3\",y\n3,red,NA,x\n"
        let t = try ScreenTable.csv(bytes: Array(csv.utf8), context: "t.csv", labelColumn: "label", maxRows: 10)
        #expect(t.featureNames == ["a", "colour=blue", "colour=red", "b"])
        #expect(t.rows == [1, 0, 1, 2.5, 2, 1, 0, 3, 3, 0, 1, 2.75])
        #expect(t.labels == ["x", "y", "x"])
        #expect(Set(t.notes.map { "\($0.column):\($0.action):\($0.count)" }) == ["a:imputed-median:1", "b:imputed-median:1", "colour:one-hot:2"])
        // A test file read with the learned encoding: columns by name, label optional, unseen categories noted.
        let test = try ScreenTable.csv(bytes: Array("b,colour,a\n1,green,2\n".utf8), context: "u.csv", labelColumn: "label",
                                       schema: t.columns, maxRows: 10)
        #expect(test.rows == [2, 0, 0, 1] && test.labels == nil && test.notes.map(\.action) == ["unseen-category"])
        for bad in ["a,label\n1,x\n2\n", "a,label\ninf,x\n", "a,label\n1,\n", "a,label\n\"1,x\n", "a,a,label\n1,2,x\n"] {
            #expect(throws: MLSecError.self) { try ScreenTable.csv(bytes: Array(bad.utf8), context: "bad.csv", labelColumn: "label", maxRows: 10) }
        }
        #expect(throws: MLSecError.self) { try ScreenTable.csv(bytes: Array("a,y\n1,0\n".utf8), context: "c.csv", labelColumn: "label", maxRows: 10) }
        #expect(throws: MLSecError.self) { try ScreenTable.csv(bytes: Array("a,label\n1,0\n2,1\n3,0\n".utf8), context: "c.csv", labelColumn: "label", maxRows: 2) }
    }

    @Test func reportJSONHasTheContractKeys() throws {
        var (rows, labels) = blobs()
        labels[5] = "c"
        rows += rows[0..<6]
        labels.append(labels[0])
        let report = try DataScreen.screen(try ScreenTable(featureNames: names(6), rows: rows, labels: labels))
        let json = report.json
        let suspects = try #require(json["suspects"]?.arrayValue)
        #expect(!suspects.isEmpty && suspects.allSatisfy { $0["row"] != nil && $0["kind"] != nil && $0["score"] != nil })
        let scores = suspects.compactMap { $0["score"].flatMap { if case .number(let s) = $0 { Double(s) } else { nil } } }
        #expect(scores == scores.sorted(by: >))
        #expect(json["summary"]?["counts"]?["duplicate"] == .int(1) && json["summary"]?["rows"] == .int(181))
    }
}
