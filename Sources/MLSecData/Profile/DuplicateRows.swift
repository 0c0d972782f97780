// DuplicateRows: exact duplicate rows of a file read in parts, from each part's row fingerprints. The (fingerprint,
// row) pairs of all parts are spread into buckets by their fingerprints' top bits, parts in file order, in one pass
// per part on all cores; each bucket (about a thousand pairs, in cache) is then sorted and scanned on its own, so
// nothing is merged on one thread.

import Foundation

package enum DuplicateRows {
    /// How many rows repeat an earlier row, and the first `listing` such rows (0-based, in file order). `offsets`
    /// gives each part's first row in the file.
    package static func find(_ parts: [RowFingerprints], offsets: [Int], listing: Int) -> (count: Int, rows: [Int]) {
        let total = parts.reduce(0) { $0 + $1.hashes.count }
        guard total > 1 else { return (0, []) }
        // About a thousand pairs a bucket, at most 2^16 buckets.
        var bits = 0
        while bits < 16, total >> (bits + 10) > 0 { bits += 1 }
        let buckets = 1 << bits
        let shift = UInt64(64 - bits), single = bits == 0
        @Sendable @inline(__always) func bucket(_ hash: UInt64) -> Int { single ? 0 : Int(truncatingIfNeeded: hash >> shift) }

        // Each part's pairs per bucket, then where each (bucket, part) run starts: bucket-major, parts in file
        // order, so that within a bucket the pairs of equal fingerprints stay in file order.
        var counts = [[Int]](repeating: [], count: parts.count)
        counts.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: parts.count) { p in
                var c = [Int](repeating: 0, count: buckets)
                for hash in parts[p].hashes { c[bucket(hash)] += 1 }
                out[p] = c
            }
        }
        var cursors = counts
        var bucketStarts = [Int](repeating: 0, count: buckets + 1)
        var position = 0
        for b in 0..<buckets {
            bucketStarts[b] = position
            for p in parts.indices {
                cursors[p][b] = position
                position += counts[p][b]
            }
        }
        bucketStarts[buckets] = position
        let runStarts = cursors, starts = bucketStarts

        var pairs = [SIMD2<UInt64>](repeating: .zero, count: total)
        pairs.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: parts.count) { p in
                var cursor = runStarts[p]
                let first = UInt64(offsets[p])
                for (row, hash) in parts[p].hashes.enumerated() {
                    let b = bucket(hash)
                    out[cursor[b]] = SIMD2(hash, first &+ UInt64(row))
                    cursor[b] += 1
                }
            }
        }

        // Buckets sorted and scanned in groups, one group per task.
        let tasks = min(buckets, 64)
        var results = [(count: Int, rows: [Int])](repeating: (0, []), count: tasks)
        pairs.withUnsafeMutableBufferPointer { all in
            nonisolated(unsafe) let all = all
            results.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: tasks) { t in
                    var count = 0
                    var rows: [Int] = []
                    let firstBucket: Int = buckets * t / tasks
                    let endBucket: Int = buckets * (t + 1) / tasks
                    for b in firstBucket..<endBucket {
                        var run = UnsafeMutableBufferPointer(rebasing: all[starts[b]..<starts[b + 1]])
                        // Rows are distinct, so ordering by (fingerprint, row) keeps file order among equal ones.
                        run.sort(by: Self.fingerprintThenRow)
                        var k = 1
                        while k < run.count {
                            if run[k].x == run[k - 1].x {
                                count += 1
                                if listing > 0 {
                                    rows.append(Int(run[k].y))
                                    if rows.count > 4 * listing { rows = Array(rows.sorted().prefix(listing)) }
                                }
                            }
                            k += 1
                        }
                    }
                    out[t] = (count, rows)
                }
            }
        }
        let count = results.reduce(0) { $0 + $1.count }
        return (count, Array(results.flatMap(\.rows).sorted().prefix(listing)))
    }

    @inline(__always)
    private static func fingerprintThenRow(_ a: SIMD2<UInt64>, _ b: SIMD2<UInt64>) -> Bool {
        a.x != b.x ? a.x < b.x : a.y < b.y
    }
}
