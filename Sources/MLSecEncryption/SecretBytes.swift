// SecretBytes: a byte buffer for passphrases and key material that is zeroed when released.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Secret bytes kept in one heap allocation that is overwritten with zeros when the last reference goes,
/// and that never appear in `description` or `debugDescription`.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    /// Copies `bytes`; the caller should wipe its own copy.
    public init<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        storage = .allocate(byteCount: max(1, bytes.count), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        UnsafeMutableRawBufferPointer(rebasing: storage[..<bytes.count]).copyBytes(from: bytes)
        count = bytes.count
    }

    /// The number of secret bytes.
    public let count: Int

    deinit {
        if let base = storage.baseAddress { explicitZero(base, storage.count) }
        storage.deallocate()
    }

    /// Calls `body` with the bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[..<count]))
    }

    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
}

/// Overwrites `count` bytes at `pointer` with zeros in a way the compiler does not remove.
func explicitZero(_ pointer: UnsafeMutableRawPointer, _ count: Int) {
    #if canImport(Glibc)
    explicit_bzero(pointer, count)
    #else
    memset(pointer, 0, count)
    #endif
}

extension Array where Element == UInt8 {
    /// Overwrites the array's bytes with zeros (for temporary copies of secrets).
    mutating func wipe() {
        withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { explicitZero(base, raw.count) }
        }
    }
}
