// FormatSniffer: identifies a file's format from its bytes, never from its name.

import MLSecCore
import MLSecFormats

/// Formats the scanner recognises.
public enum SniffedFormat: String, Sendable {
    case pickle, zip, tar, compressed, sevenZip = "7z", numpy, safetensors, gguf, hdf5, onnx, msgpack, unknown
}

/// Content-based format detection.
public enum FormatSniffer {
    /// Bytes read from the start of a file to decide.
    public static let prefixLength = 4096

    /// The format of a file whose first bytes are `prefix` and whose total size is `size`.
    /// `tail` holds the last bytes (up to 64 KiB + 22), used to find a zip's end record behind prepended data.
    public static func sniff(prefix: [UInt8], size: Int, tail: [UInt8] = []) -> SniffedFormat {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            prefix.count >= offset + magic.count && Array(prefix[offset..<offset + magic.count]) == magic
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if starts([0x93] + Array("NUMPY".utf8)) { return .numpy }
        if starts(Array("GGUF".utf8)) { return .gguf }
        if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) || starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A], at: 512) {
            return .hdf5
        }
        if ArchiveSniffer.is7z(prefix) { return .sevenZip }
        if starts(Array("ustar".utf8), at: 257) { return .tar }
        // A PROTO opcode claims a pickle whatever its version: an unsupported one is malformed, not unknown.
        if prefix.count >= 2, prefix[0] == 0x80, prefix[1] <= 0x0f { return .pickle }
        if isSafetensors(prefix, size: size) { return .safetensors }
        if Decompressor.detect(prefix) != nil { return .compressed }
        if containsZipEnd(tail) { return .zip }
        if looksLikeProtocol0Pickle(prefix) { return .pickle }
        if ONNXInspector.looksLikeModel(prefix) { return .onnx }
        return .unknown
    }

    static func isSafetensors(_ prefix: [UInt8], size: Int) -> Bool {
        guard prefix.count >= 9 else { return false }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(prefix[i]) << (8 * UInt64(i)) }
        // The length itself is not trusted here: a hostile header length must still reach the validator.
        return n >= 2 && prefix[8] == UInt8(ascii: "{")
    }

    static func containsZipEnd(_ tail: [UInt8]) -> Bool {
        guard tail.count >= 22 else { return false }
        var i = tail.count - 22
        while i >= 0 {
            if tail[i] == 0x50, tail[i + 1] == 0x4B, tail[i + 2] == 0x05, tail[i + 3] == 0x06 { return true }
            i -= 1
        }
        return false
    }

    /// Protocol 0 and 1 pickles have no PROTO opcode; accept a stream whose first opcode is a plausible
    /// protocol-0/1 start and that the emulator parses to a STOP without structural issues.
    static func looksLikeProtocol0Pickle(_ prefix: [UInt8]) -> Bool {
        guard let first = prefix.first else { return false }
        let starters: Set<UInt8> = Set("(]}cINSVFLJKMUTX)lde".utf8)
        guard starters.contains(first) else { return false }
        let analysis = PickleEmulator().analyze(bytes: prefix)
        return analysis.pickleCount >= 1 && analysis.issues.allSatisfy { $0.kind != .malformed }
    }
}
