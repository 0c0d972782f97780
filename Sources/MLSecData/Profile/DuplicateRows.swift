// DuplicateRows: exact duplicate rows of a file read in parts, from each part's row fingerprints. The (fingerprint,
// row) pairs of all parts are spread into buckets by their fingerprints' top bits, parts in file order, in one pass
// per part on all cores; each bucket (about a thousand pairs, in cache, in file order) is then checked on its own
// with a small hash set, so nothing is sorted or merged on one thread.

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

        // Buckets in groups, one group per task. A bucket holds its pairs in file order, so a fingerprint seen
        // before in its bucket (a small open-addressing set, cleared per bucket) marks a duplicate row.
        let tasks = min(buckets, 64)
        var results = [(count: Int, rows: [Int])](repeating: (0, []), count: tasks)
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            pairs.withUnsafeBufferPointer { all in
                nonisolated(unsafe) let all = all
                DispatchQueue.concurrentPerform(iterations: tasks) { t in
                    let firstBucket: Int = buckets * t / tasks
                    let endBucket: Int = buckets * (t + 1) / tasks
                    out[t] = duplicates(in: all, buckets: firstBucket..<endBucket, starts: starts, listing: listing)
                }
            }
        }
        let count = results.reduce(0) { $0 + $1.count }
        return (count, Array(results.flatMap(\.rows).sorted().prefix(listing)))
    }

    /// The repeated fingerprints of buckets `range` of `all` (bucket `b` is `starts[b]..<starts[b + 1]`, in file
    /// order): how many, and the first `listing` rows (kept to at most 4 x `listing` on the way).
    private static func duplicates(in all: UnsafeBufferPointer<SIMD2<UInt64>>, buckets range: Range<Int>, starts: [Int],
                                   listing: Int) -> (count: Int, rows: [Int]) {
        var largest = 0
        for b in range { largest = max(largest, starts[b + 1] - starts[b]) }
        var capacity = 16
        while capacity < 2 * largest { capacity <<= 1 }
        let seen = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)   // 0: empty (a zero fingerprint apart)
        defer { seen.deallocate() }
        var count = 0
        var rows: [Int] = []
        for b in range {
            let run = UnsafeBufferPointer(rebasing: all[starts[b]..<starts[b + 1]])
            var size = 16
            while size < 2 * run.count { size <<= 1 }
            let mask = size - 1
            seen.initialize(repeating: 0, count: size)
            var zeroSeen = false
            for pair in run {
                let hash = pair.x
                var repeated = false
                if hash == 0 {
                    repeated = zeroSeen
                    zeroSeen = true
                } else {
                    var i = Int(truncatingIfNeeded: hash) & mask
                    while seen[i] != 0 {
                        if seen[i] == hash { repeated = true; break }
                        i = (i + 1) & mask
                    }
                    if !repeated { seen[i] = hash }
                }
                guard repeated else { continue }
                count += 1
                if listing > 0 {
                    rows.append(Int(pair.y))
                    if rows.count > 4 * listing { rows = Array(rows.sorted().prefix(listing)) }
                }
            }
        }
        return (count, rows)
    }
}
