// EmbeddedPickleSearch: where in bytes that are not a pickle one could still start, for loaders that seek.

/// Finds pickle streams hidden in data that is not itself a pickle (the bytes after a stream's last `STOP`):
/// a custom loader can seek past junk to them. Two kinds of start are found: a `PROTO` opcode with a protocol
/// 2-5 (every pickle Python writes at protocol 2 and above begins so), and a protocol 0/1 `GLOBAL` or `INST`
/// opcode with its module and name lines (the only way those protocols import anything).
public enum EmbeddedPickleSearch {
    /// A place where a pickle may start.
    public enum Candidate: Equatable, Sendable {
        /// A `PROTO` opcode at this offset: emulate from here.
        case proto(offset: Int)
        /// A `GLOBAL` (`c`) or `INST` (`i`) opcode at this offset naming `module`.`name`.
        case textImport(offset: Int, module: String, name: String)
    }

    /// Longest module or name line accepted for a text import.
    static let maxName = 200

    /// Candidates in `bytes`, in order, at most `limit`.
    public static func candidates(in bytes: UnsafeRawBufferPointer, limit: Int = 1000) -> [Candidate] {
        var found: [Candidate] = []
        var i = 0
        let n = bytes.count
        while i < n, found.count < limit {
            let b = bytes[i]
            if b == 0x80, i + 1 < n, (2...5).contains(bytes[i + 1]) {
                found.append(.proto(offset: i))
            } else if b == UInt8(ascii: "c") || b == UInt8(ascii: "i"),
                let (module, afterModule) = line(bytes, from: i + 1, dotted: true),
                let (name, end) = line(bytes, from: afterModule, dotted: true) {
                found.append(.textImport(offset: i, module: module, name: name))
                i = end  // the lines are this import's: no second, shorter match inside them
                continue
            }
            i += 1
        }
        return found
    }

    /// A newline-terminated Python dotted identifier starting at `start`, and the offset after its newline.
    static func line(_ bytes: UnsafeRawBufferPointer, from start: Int, dotted: Bool) -> (String, Int)? {
        var j = start
        while j < bytes.count, j - start <= maxName {
            let c = bytes[j]
            if c == 0x0A {
                guard j > start else { return nil }
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<j]), as: UTF8.self)
                return PickleText.isDottedName(text) ? (text, j + 1) : nil
            }
            let identifier = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
                || (dotted && c == 0x2E)
            guard identifier else { return nil }
            j += 1
        }
        return nil
    }
}
