// NeighbourSearch.swift: standardised feature space and brute-force k-nearest neighbours on every core.

import Dispatch
import Foundation
import MLSecCore

/// Per-feature centring and scaling learned from the screened data (and applied unchanged to a test file).
/// A column's scale is its standard deviation, floored at `floorFraction` × the median of the columns' standard
/// deviations: a near-constant column (a border pixel, a rare flag) would otherwise turn its rare departures into
/// huge z-scores that dominate every distance. A constant column gets the floor, so a departure still counts.
struct Standardiser: Sendable {
    static let floorFraction = 0.25
    var mean: [Double]
    var scale: [Double]

    init(_ table: ScreenTable) {
        let d = table.featureCount
        var sum = [Double](repeating: 0, count: d)
        var sumSquares = [Double](repeating: 0, count: d)
        for r in 0..<table.count {
            for c in 0..<d {
                let v = Double(table.rows[r * d + c])
                sum[c] += v
                sumSquares[c] += v * v
            }
        }
        let n = Double(max(table.count, 1))
        let means = sum.map { $0 / n }
        let deviations = (0..<d).map { c in max(0, sumSquares[c] / n - means[c] * means[c]).squareRoot() }
        let varying = deviations.enumerated().filter { $0.element > 1e-9 * max(1, abs(means[$0.offset])) }.map(\.element)
        let floor = varying.isEmpty ? 1 : Self.floorFraction * RobustCovariance.median(varying)
        mean = means
        scale = deviations.map { max($0, floor) }
    }

    /// `table`'s rows as z-scores, each clipped to ±`clip` when given (so one wild value cannot decide a row's
    /// neighbours), padded to a multiple of 8 features for the SIMD distance loop.
    func transform(_ table: ScreenTable, clip: Double?) -> FeatureMatrix {
        let d = table.featureCount
        let stride = (d + 7) / 8 * 8
        var values = [Float](repeating: 0, count: table.count * stride)
        for r in 0..<table.count {
            for c in 0..<d {
                var z = (Double(table.rows[r * d + c]) - mean[c]) / scale[c]
                if let clip { z = min(clip, max(-clip, z)) }
                values[r * stride + c] = Float(z)
            }
        }
        return FeatureMatrix(count: table.count, width: d, stride: stride, values: values)
    }
}

/// Row-major rows padded to `stride` floats, with their squared norms.
struct FeatureMatrix: Sendable {
    var count: Int
    var width: Int
    var stride: Int
    var values: [Float]
    var squaredNorms: [Float]

    init(count: Int, width: Int, stride: Int, values: [Float]) {
        self.count = count
        self.width = width
        self.stride = stride
        self.values = values
        squaredNorms = (0..<count).map { r in
            var s: Float = 0
            for c in 0..<width { s += values[r * stride + c] * values[r * stride + c] }
            return s
        }
    }

    /// The exact Euclidean distance between row `i` of `self` and row `j` of `other`, in double precision.
    func distance(_ i: Int, _ other: FeatureMatrix, _ j: Int) -> Double {
        var s = 0.0
        for c in 0..<width {
            let delta = Double(values[i * stride + c]) - Double(other.values[j * other.stride + c])
            s += delta * delta
        }
        return s.squareRoot()
    }
}

/// Each query row's `k` nearest reference rows, nearest first.
struct NeighbourLists: Sendable {
    var k: Int
    /// `queries × k` reference row numbers; -1 where fewer than k references exist.
    var index: [Int32]
    /// The matching Euclidean distances (infinity for padding).
    var distance: [Double]

    func neighbours(of row: Int) -> [(index: Int, distance: Double)] {
        (0..<k).compactMap { m in
            let j = index[row * k + m]
            return j < 0 ? nil : (Int(j), distance[row * k + m])
        }
    }
}

enum NeighbourSearch {
    /// Queries per parallel block: each reference row is loaded once per block.
    static let block = 32

    /// Brute force: squared distances as ‖q‖² + ‖r‖² − 2 q·r with SIMD dot products over blocks of queries,
    /// on all cores; the k survivors' distances are then recomputed exactly. With `excludeSelf`, queries and
    /// references are the same rows and a row is not its own neighbour.
    static func search(queries: FeatureMatrix, reference: FeatureMatrix, k: Int, excludeSelf: Bool) -> NeighbourLists {
        let n = queries.count
        var index = [Int32](repeating: -1, count: n * k)
        var distance = [Double](repeating: .infinity, count: n * k)
        guard n > 0, k > 0, reference.count > 0 else { return NeighbourLists(k: k, index: index, distance: distance) }
        let blocks = (n + block - 1) / block
        index.withUnsafeMutableBufferPointer { indexBuffer in
            distance.withUnsafeMutableBufferPointer { distanceBuffer in
                nonisolated(unsafe) let outIndex = indexBuffer
                nonisolated(unsafe) let outDistance = distanceBuffer
                queries.values.withUnsafeBufferPointer { qBuffer in
                    reference.values.withUnsafeBufferPointer { rBuffer in
                        guard let qStart = qBuffer.baseAddress, let rStart = rBuffer.baseAddress else { return }
                        nonisolated(unsafe) let qRaw = UnsafeRawPointer(qStart)
                        nonisolated(unsafe) let rRaw = UnsafeRawPointer(rStart)
                        DispatchQueue.concurrentPerform(iterations: blocks) { b in
                            let rows = b * block..<min(n, (b + 1) * block)
                            let lists = searchBlock(rows: rows, queries: queries, qRaw: qRaw, reference: reference,
                                                    rRaw: rRaw, k: k, excludeSelf: excludeSelf)
                            for (slot, i) in rows.enumerated() {
                                for (m, pair) in lists[slot].enumerated() {
                                    outIndex[i * k + m] = pair.index
                                    outDistance[i * k + m] = pair.distance
                                }
                            }
                        }
                    }
                }
            }
        }
        return NeighbourLists(k: k, index: index, distance: distance)
    }

    /// One block of queries against every reference row: each query's k nearest, by exact distance.
    static func searchBlock(rows: Range<Int>, queries: FeatureMatrix, qRaw: UnsafeRawPointer, reference: FeatureMatrix,
                            rRaw: UnsafeRawPointer, k: Int, excludeSelf: Bool) -> [[(distance: Double, index: Int32)]] {
        let chunks = queries.stride / 8
        var best = [[(Float, Int32)]](repeating: [], count: rows.count)
        var worst = [Float](repeating: .infinity, count: rows.count)
        for j in 0..<reference.count {
            let rRow = rRaw + j * reference.stride * 4
            let rNorm: Float = reference.squaredNorms[j]
            for (slot, i) in rows.enumerated() {
                if excludeSelf, i == j { continue }
                let dot: Float = dot8(qRaw + i * queries.stride * 4, rRow, chunks)
                let d2: Float = max(0, queries.squaredNorms[i] + rNorm - 2 * dot)
                guard d2 < worst[slot] else { continue }
                insert((d2, Int32(j)), into: &best[slot], k: k)
                if best[slot].count == k, let last = best[slot].last { worst[slot] = last.0 }
            }
        }
        return rows.enumerated().map { slot, i in
            let exact: [(distance: Double, index: Int32)] = best[slot].map { pair in
                (distance: queries.distance(i, reference, Int(pair.1)), index: pair.1)
            }
            return exact.sorted { a, b in a.distance < b.distance || (a.distance == b.distance && a.index < b.index) }
        }
    }

    /// The dot product of two rows of `chunks` × 8 floats.
    @inline(__always)
    static func dot8(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ chunks: Int) -> Float {
        var acc = SIMD8<Float>()
        for c in 0..<chunks {
            let x = a.loadUnaligned(fromByteOffset: c * 32, as: SIMD8<Float>.self)
            let y = b.loadUnaligned(fromByteOffset: c * 32, as: SIMD8<Float>.self)
            acc += x * y
        }
        return acc.sum()
    }

    /// Inserts into a list kept sorted by distance, at most `k` long.
    @inline(__always)
    static func insert(_ candidate: (Float, Int32), into list: inout [(Float, Int32)], k: Int) {
        var position = list.count
        while position > 0, list[position - 1].0 > candidate.0 { position -= 1 }
        guard position < k else { return }
        list.insert(candidate, at: position)
        if list.count > k { list.removeLast() }
    }
}
