// ArchiveByteSource: bounded random-access reads from a file (pread) or an in-memory buffer, for archive readers.

import MLSecCore

/// Where an archive's bytes come from: an open file read with `pread`, or a byte array.
///
/// Every read is bounds-checked against ``size``; offsets and counts that are negative or overflow are
/// refused rather than trapped on, so callers may pass values derived from hostile headers.
struct ArchiveByteSource: Sendable {
    private enum Storage: Sendable {
        case file(ReadOnlyFile)
        case memory([UInt8])
    }

    private let storage: Storage
    /// Total number of bytes.
    let size: Int
    /// A short label for messages (the path, or "buffer").
    let label: String

    /// Opens `path`, which must be a regular file.
    init(path: String) throws {
        let file = try ReadOnlyFile(path: path)
        let status = try file.status()
        guard status.kind == .regular else {
            throw MLSecError.io("\(path) is a \(status.kind.description), not a regular file")
        }
        guard let size = Int(exactly: status.size), size >= 0 else {
            throw MLSecError.io("\(path) reports an impossible size \(status.size)")
        }
        self.storage = .file(file)
        self.size = size
        self.label = path
    }

    /// Wraps `bytes`.
    init(bytes: [UInt8]) {
        self.storage = .memory(bytes)
        self.size = bytes.count
        self.label = "buffer"
    }

    /// `true` when `count` bytes starting at `offset` lie inside the source.
    func contains(offset: Int, count: Int) -> Bool {
        guard offset >= 0, count >= 0 else { return false }
        let (end, overflow) = offset.addingReportingOverflow(count)
        return !overflow && end <= size
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the source, none past it).
    func read(at offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset < size else { return [] }
        let available = min(count, size - offset)
        switch storage {
        case .memory(let bytes):
            return Array(bytes[offset..<(offset + available)])
        case .file(let file):
            var out = [UInt8](repeating: 0, count: available)
            let n = try out.withUnsafeMutableBytes { try file.read(into: $0, at: Int64(offset)) }
            if n < available { out.removeSubrange(n...) }
            return out
        }
    }

    /// Exactly `count` bytes at `offset`, or `nil` when they do not all lie inside the source.
    func readExactly(at offset: Int, count: Int) throws -> [UInt8]? {
        guard contains(offset: offset, count: count) else { return nil }
        let bytes = try read(at: offset, count: count)
        return bytes.count == count ? bytes : nil
    }

    /// Fills as much of `buffer` as possible from `offset`; returns the number of bytes copied.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        guard offset >= 0, offset < size, buffer.count > 0 else { return 0 }
        let available = min(buffer.count, size - offset)
        switch storage {
        case .memory(let bytes):
            bytes.withUnsafeBytes { raw in
                let slice = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + available)])
                buffer.copyMemory(from: slice)
            }
            return available
        case .file(let file):
            return try file.read(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<available]), at: Int64(offset))
        }
    }
}

/// Reads a region of an ``ArchiveByteSource`` through a moving window, so that a large central directory is
/// never loaded whole and each small record costs no system call.
final class WindowedReader {
    private let source: ArchiveByteSource
    private let windowSize: Int
    private var windowStart = 0
    private var window: [UInt8] = []

    init(source: ArchiveByteSource, windowSize: Int = 1 << 20) {
        self.source = source
        self.windowSize = max(windowSize, 1 << 12)
    }

    /// Exactly `count` bytes at `offset`, or `nil` when they are not all inside the source.
    func bytes(at offset: Int, count: Int) throws -> [UInt8]? {
        guard source.contains(offset: offset, count: count) else { return nil }
        if count == 0 { return [] }
        if count > windowSize { return try source.readExactly(at: offset, count: count) }
        let windowEnd = windowStart + window.count
        if offset < windowStart || offset + count > windowEnd {
            window = try source.read(at: offset, count: windowSize)
            windowStart = offset
        }
        let start = offset - windowStart
        guard start + count <= window.count else { return nil }
        return Array(window[start..<(start + count)])
    }
}

/// Overflow-checked arithmetic on offsets and lengths.
enum Checked {
    /// `a + b`, or `nil` on overflow or when either is negative.
    static func add(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }

    /// `a + b + c`, or `nil` on overflow or when any is negative.
    static func add(_ a: Int, _ b: Int, _ c: Int) -> Int? {
        guard let ab = add(a, b) else { return nil }
        return add(ab, c)
    }

    /// `a * b`, or `nil` on overflow or when either is negative.
    static func multiply(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : product
    }

    /// `value` as an `Int`, saturating at `Int.max`.
    static func int(_ value: UInt64) -> Int { Int(exactly: value) ?? Int.max }

    /// `value` rounded up to a multiple of `unit` (a power of two), or `nil` on overflow.
    static func roundUp(_ value: Int, to unit: Int) -> Int? {
        guard value >= 0, unit > 0, let bumped = add(value, unit - 1) else { return nil }
        return bumped / unit * unit
    }
}

/// Path checks shared by the zip and tar readers.
package enum ArchivePath {
    /// Components of `name` split at `/` and `\`.
    package static func components(_ name: String) -> [Substring] {
        name.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "/" || $0 == "\\" })
    }

    /// `true` when a component of `name` is `..`.
    package static func hasParentReference(_ name: String) -> Bool {
        let bytes = name.utf8
        guard bytes.count >= 2, zip(bytes, bytes.dropFirst()).contains(where: { $0 == 0x2e && $1 == 0x2e }) else {
            return false
        }
        return components(name).contains("..")
    }

    /// `true` for `/x`, `\x`, `C:x` and `\\server\share` style names.
    package static func isAbsolute(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars.prefix(2))
        guard let first = scalars.first else { return false }
        if first == "/" || first == "\\" { return true }
        if scalars.count == 2, scalars[1] == ":", first.isASCII, first.properties.isAlphabetic { return true }
        return false
    }

    /// `name` with backslashes turned into slashes and empty and `.` components removed; case is kept.
    static func normalized(_ name: String) -> String {
        // Fast path: no backslash, no empty component and no `.` component means nothing to change.
        var clean = true
        var componentLength = 0
        var componentIsDot = false
        for byte in name.utf8 {
            if byte == UInt8(ascii: "\\") {
                clean = false
                break
            }
            if byte == UInt8(ascii: "/") {
                if componentLength == 0 || componentIsDot {
                    clean = false
                    break
                }
                componentLength = 0
                componentIsDot = false
            } else {
                componentIsDot = componentLength == 0 && byte == UInt8(ascii: ".")
                componentLength += 1
            }
        }
        if clean, componentLength > 0, !componentIsDot { return name }
        return components(name).filter { !$0.isEmpty && $0 != "." }.joined(separator: "/")
    }

    /// A name quoted for a message, with control characters escaped and long names shortened.
    package static func quoted(_ name: String) -> String {
        var out = ""
        var count = 0
        for scalar in name.unicodeScalars {
            if count >= 200 {
                out += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return "'\(out)'"
    }
}
