// ByteKeyTables: tables keyed by bytes straight from the CSV buffer, so that counting a column's categories or
// fingerprinting a row builds no String: `CategoryCounter` (distinct values and their counts), `CategorySet` (a
// schema's categories), and `RowFingerprints` (each row's fingerprint, for `DuplicateRows`).

import Foundation
import MLSecFormats

/// 64-bit mixing of bytes, eight at a time (multiply and fold, as in wyhash's mixing).
enum ByteHash {
    @inline(__always)
    static func mix(_ h: inout UInt64, _ word: UInt64) {
        let product = (h ^ word).multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15)
        h = product.high ^ product.low
    }

    @inline(__always)
    static func add(_ h: inout UInt64, _ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { mix(&h, 0x1F); return }
        var j = 0
        while j + 8 <= bytes.count {
            mix(&h, UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self))
            j += 8
        }
        var tail: UInt64 = 0
        while j < bytes.count { tail = tail << 8 | UInt64(base[j]); j += 1 }
        mix(&h, tail)
        mix(&h, UInt64(bytes.count) | 0x1F00)
    }

    /// Four independent lanes of 8 bytes (32 bytes per step), folded together with the length at the end.
    static func hashWide(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var a: UInt64 = 0xCBF2_9CE4_8422_2325, b: UInt64 = 0x1357_9BDF_0246_8ACE
        var c: UInt64 = 0x0F1E_2D3C_4B5A_6978, d: UInt64 = 0x8796_A5B4_C3D2_E1F0
        guard let base = bytes.baseAddress else { return a }
        let n = bytes.count
        var j = 0
        while j &+ 32 <= n {
            let p = UnsafeRawPointer(base + j)
            mix(&a, p.loadUnaligned(as: UInt64.self))
            mix(&b, p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            mix(&c, p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            mix(&d, p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            j &+= 32
        }
        while j &+ 8 <= n {
            mix(&a, UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self))
            j &+= 8
        }
        var tail: UInt64 = 0
        while j < n { tail = tail << 8 | UInt64(base[j]); j &+= 1 }
        mix(&a, tail)
        mix(&a, b)
        mix(&a, c)
        mix(&a, d)
        mix(&a, UInt64(n))
        return a
    }

    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        add(&h, bytes)
        return h
    }
}

/// A column's category counts behind a reference. The table lives in memory of its own rather than in a stored
/// `var`, which would cost a dynamic exclusivity check per call (profile calls this for two or more fields a row);
/// a counter is used by one thread at a time.
final class CategoryCounter {
    private let table: UnsafeMutablePointer<ByteKeyTable>

    init(limit: Int) {
        table = .allocate(capacity: 1)
        table.initialize(to: ByteKeyTable(limit: limit))
    }

    deinit {
        table.deinitialize(count: 1)
        table.deallocate()
    }

    var overflowed: Bool { table.pointee.overflowed }
    var dictionary: [String: Int] { table.pointee.dictionary }

    func add(_ field: UnsafeBufferPointer<UInt8>, quoted: Bool) { table.pointee.add(field, quoted: quoted) }
    func merge(_ other: CategoryCounter) { table.pointee.merge(other.table.pointee) }
}

/// A fixed set of categories (a schema's): an immutable table, looked up in place. Validation builds one per part,
/// so that no two threads touch the same object's reference count.
final class CategorySet: Sendable {
    private let table: ByteKeyTable

    init<S: Sequence>(_ values: S) where S.Element == String { table = ByteKeyTable.set(values) }

    func contains(_ field: UnsafeBufferPointer<UInt8>, quoted: Bool) -> Bool { table.contains(field, quoted: quoted) }
}

/// Distinct byte strings with their counts, up to `limit` of them (then `overflowed`, and counting stops).
struct ByteKeyTable {
    private var slots: [Int32]          // entry index + 1, 0 = empty
    private var hashes: [UInt64] = []
    private var offsets: [Int] = []
    private var lengths: [Int] = []
    private(set) var counts: [Int] = []
    private var arena: [UInt8] = []
    let limit: Int
    private(set) var overflowed = false

    init(limit: Int) {
        self.limit = limit
        slots = [Int32](repeating: 0, count: 64)
    }

    /// Adds `count` occurrences of a field's bytes (a quoted field's doubled quotes are made single first).
    mutating func add(_ field: UnsafeBufferPointer<UInt8>, quoted: Bool, count: Int = 1) {
        guard !overflowed else { return }
        if quoted, field.contains(0x22) {
            let plain = CSVRow.unescaped(field)
            plain.withUnsafeBufferPointer { add($0, count: count) }
        } else {
            add(field, count: count)
        }
    }

    private mutating func add(_ key: UnsafeBufferPointer<UInt8>, count: Int) {
        let h = ByteHash.hash(key)
        let (slot, entry) = find(key, hash: h)
        if let entry { counts[entry] += count; return }
        guard counts.count < limit else { overflowed = true; return }
        offsets.append(arena.count)
        lengths.append(key.count)
        arena.append(contentsOf: key)
        hashes.append(h)
        counts.append(count)
        slots[slot] = Int32(counts.count)
        if counts.count * 2 > slots.count { rehash() }
    }

    /// Whether the field's bytes (unescaped when quoted) were added.
    func contains(_ field: UnsafeBufferPointer<UInt8>, quoted: Bool) -> Bool {
        if quoted, field.contains(0x22) {
            return CSVRow.unescaped(field).withUnsafeBufferPointer { find($0, hash: ByteHash.hash($0)).entry != nil }
        }
        return find(field, hash: ByteHash.hash(field)).entry != nil
    }

    private func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (slot: Int, entry: Int?) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[i]) - 1
            if e < 0 { return (i, nil) }
            if hashes[e] == h, lengths[e] == key.count,
               arena.withUnsafeBufferPointer({ key.count == 0 || memcmp($0.baseAddress! + offsets[e], key.baseAddress!, key.count) == 0 }) {
                return (i, e)
            }
            i = (i + 1) & mask
        }
    }

    private mutating func rehash() {
        var bigger = [Int32](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        for (e, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while bigger[i] != 0 { i = (i + 1) & mask }
            bigger[i] = Int32(e + 1)
        }
        slots = bigger
    }

    /// Adds every value of `other` (a later part of the same column).
    mutating func merge(_ other: ByteKeyTable) {
        if other.overflowed { overflowed = true }
        for e in 0..<other.counts.count where !overflowed {
            other.arena.withUnsafeBufferPointer { arena in
                add(UnsafeBufferPointer(rebasing: arena[other.offsets[e]..<other.offsets[e] + other.lengths[e]]), count: other.counts[e])
            }
        }
    }

    /// The values as text (invalid UTF-8 repaired) with their counts.
    var dictionary: [String: Int] {
        var out: [String: Int] = [:]
        for e in counts.indices {
            out[String(decoding: arena[offsets[e]..<offsets[e] + lengths[e]], as: UTF8.self), default: 0] += counts[e]
        }
        return out
    }

    /// A lookup set of the given values.
    static func set<S: Sequence>(_ values: S) -> ByteKeyTable where S.Element == String {
        var table = ByteKeyTable(limit: .max)
        for value in values {
            var bytes = Array(value.utf8)
            bytes.withUnsafeMutableBufferPointer { table.add(UnsafeBufferPointer($0), count: 1) }
        }
        return table
    }
}

/// One part's row fingerprints (64-bit hashes of each row's fields), in row order: appending is all a row costs
/// while the file is read; `DuplicateRows.find` checks every part's at the end, on all cores. A part records
/// its first `maxRowsPerPart` rows (20 million over the most parts); later rows are not checked.
package struct RowFingerprints {
    static let maxRowsPerPart = 2_500_000
    package var hashes: [UInt64] = []
    var capped = false

    package init(hashes: [UInt64] = []) { self.hashes = hashes }

    mutating func add(_ row: CSVRow) {
        guard hashes.count < Self.maxRowsPerPart else { capped = true; return }
        hashes.append(Self.hash(row))
    }

    /// The row's fingerprint: of its fields joined by commas (the row's own bytes when nothing is quoted, so a
    /// quoted and an unquoted spelling of the same values match), or, when a quoted field holds a comma, quote or
    /// line break, of each field closed by its length.
    static func hash(_ row: CSVRow) -> UInt64 {
        if !row.hasQuotedField { return ByteHash.hashWide(row.span) }
        if !(0..<row.count).contains(where: { i in row.isQuoted(i) && row.field(i).contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D } }) {
            var joined: [UInt8] = []
            for i in 0..<row.count {
                if i > 0 { joined.append(0x2C) }
                joined.append(contentsOf: row.field(i))
            }
            return joined.withUnsafeBufferPointer { ByteHash.hashWide($0) }
        }
        var fields: UInt64 = 0x243F_6A88_85A3_08D3
        for i in 0..<row.count { ByteHash.add(&fields, row.field(i)) }
        return fields
    }
}
