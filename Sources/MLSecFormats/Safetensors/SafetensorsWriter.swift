// SafetensorsWriter: writes F32 tensors as a deterministic safetensors file, atomically.

import MLSecCore

/// Writes safetensors files of F32 tensors.
///
/// Output is deterministic: the header is compact JSON with keys sorted by their UTF-8 bytes (member keys of
/// each entry too), padded with spaces so that the data buffer starts at a multiple of 8; tensor data follows
/// in the order the tensors are given, little-endian, with no gaps. The result reads back with
/// ``SafetensorsFile`` and with the reference implementation.
public enum SafetensorsWriter {
    /// Writes `tensors` to `path` atomically (temporary file in the same directory, `fsync`, `rename`).
    /// - Throws: `usage` for an invalid tensor list (see ``encode(_:metadata:)``), `limitExceeded` when the
    ///   header would be over the default ``SafetensorsLimits``, `io` when the file cannot be written.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(try encode(tensors, metadata: metadata), to: path)
    }

    /// The bytes of a safetensors file holding `tensors` (as F32) and `metadata`.
    /// - Throws: `usage` when a name is repeated or is `__metadata__`, a dimension is negative, or a shape's
    ///   element count is not the number of values; `limitExceeded` when the header would be over the default
    ///   ``SafetensorsLimits``.
    public static func encode(_ tensors: [(name: String, shape: [Int], values: [Float])],
                              metadata: [String: String] = [:]) throws -> [UInt8] {
        let limits = SafetensorsLimits()
        guard tensors.count <= limits.maxTensors else {
            throw MLSecError.limitExceeded("cannot write \(tensors.count) tensors; the limit is \(limits.maxTensors)")
        }
        var names = Set<String>()
        var entries: [(String, JSONValue)] = []
        entries.reserveCapacity(tensors.count + 1)
        var offset = 0
        for tensor in tensors {
            guard tensor.name != SafetensorsHeader.metadataKey else {
                throw MLSecError.usage("a tensor cannot be named \(SafetensorsHeader.metadataKey), a reserved key")
            }
            guard names.insert(tensor.name).inserted else {
                throw MLSecError.usage("tensor name \(quoted(tensor.name)) is used twice")
            }
            guard tensor.shape.count <= limits.maxRank else {
                throw MLSecError.usage(
                    "tensor \(quoted(tensor.name)) has rank \(tensor.shape.count), over \(limits.maxRank)")
            }
            var elementCount = 1
            for dimension in tensor.shape {
                guard dimension >= 0 else {
                    throw MLSecError.usage(
                        "tensor \(quoted(tensor.name)) has a negative dimension in shape \(tensor.shape)")
                }
                let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
                guard !overflow else {
                    throw MLSecError.usage("tensor \(quoted(tensor.name)) shape \(tensor.shape) overflows")
                }
                elementCount = product
            }
            guard elementCount == tensor.values.count else {
                throw MLSecError.usage(
                    "tensor \(quoted(tensor.name)) has shape \(tensor.shape) (\(elementCount) elements) but "
                        + "\(tensor.values.count) values")
            }
            // values.count * 4 cannot overflow: an array of that many Floats exists in memory.
            let end = offset + tensor.values.count * 4
            entries.append((tensor.name, .object([
                ("data_offsets", .array([.int(offset), .int(end)])),
                ("dtype", .string(SafetensorsDType.f32.rawValue)),
                ("shape", .array(tensor.shape.map { .int($0) })),
            ])))
            offset = end
        }
        if !metadata.isEmpty {
            let members = metadata.map { ($0.key, JSONValue.string($0.value)) }
            entries.append((SafetensorsHeader.metadataKey, .object(members)))
        }

        var header = JSONWriter.canonical(.object(entries))
        let padding = (8 - header.count % 8) % 8
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        guard header.count <= limits.maxHeaderBytes else {
            throw MLSecError.limitExceeded(
                "the safetensors header would be \(header.count) bytes, over the \(limits.maxHeaderBytes)-byte limit")
        }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let length = UInt64(header.count)
        for shift in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(shift)))) }
        out.append(contentsOf: header)
        for tensor in tensors {
            for value in tensor.values {
                let bits = value.bitPattern
                out.append(UInt8(truncatingIfNeeded: bits))
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
                out.append(UInt8(truncatingIfNeeded: bits >> 16))
                out.append(UInt8(truncatingIfNeeded: bits >> 24))
            }
        }
        return out
    }
}
