// DuplicateRowsTests: the duplicates found through fingerprint buckets are those of a plain scan in file order,
// across parts and bucket boundaries.

import Testing
import MLSecData

struct DuplicateRowsTests {
    @Test func bucketsFindWhatAScanInFileOrderFinds() {
        var state: UInt64 = 5
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for (rows, distinct, partCount) in [(0, 1, 1), (1, 1, 1), (2, 1, 2), (5_000, 3_000, 3), (40_000, 30_000, 5), (40_000, 50, 8)] {
            // Fingerprints drawn from `distinct` values, so that many repeat, within and across parts.
            let values = (0..<distinct).map { _ in next() }
            let all = (0..<rows).map { _ in values[Int(next() % UInt64(distinct))] }
            var seen = Set<UInt64>()
            var expected: [Int] = []
            for (row, hash) in all.enumerated() where !seen.insert(hash).inserted { expected.append(row) }
            var parts: [RowFingerprints] = []
            var offsets: [Int] = []
            for p in 0..<partCount {
                let range = (rows * p / partCount)..<(rows * (p + 1) / partCount)
                parts.append(RowFingerprints(hashes: Array(all[range])))
                offsets.append(range.lowerBound)
            }
            for listing in [0, 10, rows] {
                let found = DuplicateRows.find(parts, offsets: offsets, listing: listing)
                #expect(found.count == expected.count, "\(rows) rows in \(partCount) parts")
                #expect(found.rows == Array(expected.prefix(listing)), "\(rows) rows in \(partCount) parts, listing \(listing)")
            }
        }
    }
}
