// Checkpoint: the C2SP tlog-checkpoint body (origin, size, root) signed as a note, and its consistency checks.

import MLSecCore

/// A transparency-log checkpoint (c2sp.org/tlog-checkpoint): origin line, decimal size, base64 root.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: UInt64
    public var root: [UInt8]

    public init(origin: String, size: UInt64, root: [UInt8]) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text: three lines, each ending in a newline.
    public var text: String { "\(origin)\n\(size)\n\(Base64.encode(root))\n" }

    /// Parses a checkpoint's text (extension lines after the third are allowed and ignored).
    public init(text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, lines.last == "", !lines[0].isEmpty else {
            throw MLSecError.malformed("a checkpoint has an origin, a size and a root line")
        }
        let sizeText = String(lines[1])
        guard let size = UInt64(sizeText), sizeText == String(size) else {
            throw MLSecError.malformed("the checkpoint size \"\(sizeText.prefix(40))\" is not a decimal without leading zeros")
        }
        guard let root = Base64.decode(String(lines[2])), root.count == MerkleHash.size,
            Base64.encode(root) == lines[2]
        else { throw MLSecError.malformed("the checkpoint root is not a canonical base64 32-byte hash") }
        for extra in lines[3..<(lines.count - 1)] where extra.isEmpty {
            throw MLSecError.malformed("checkpoint extension lines must not be empty")
        }
        self.init(origin: String(lines[0]), size: size, root: root)
    }

    /// Signs this checkpoint with `signer`.
    public func signed(by signer: NoteSigner) throws -> String { try signer.sign(text) }

    /// Verifies a signed checkpoint against `verifiers` and parses it.
    public static func open(_ note: String, verifiers: [NoteVerifier]) throws -> Checkpoint {
        try Checkpoint(text: NoteVerifier.open(note, verifiers: verifiers))
    }
}
