// ONNXReader: walks an ONNX ModelProto (protobuf) far enough to find tensors' external-data locations.

import MLSecCore

/// Reads ONNX models without a protobuf library: only the fields needed to find tensors are decoded,
/// everything else (including raw weight data) is skipped, with every length checked against its message.
package enum ONNXReader {
    /// A ModelProto starts with ir_version (field 1, varint) followed by another known ModelProto field.
    package static func looksLikeModel(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 3, prefix[0] == 0x08, (1...20).contains(prefix[1]) else { return false }
        return [0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72].contains(prefix[2])
    }

    /// The external-data `location` of every tensor (initializers, attributes, sparse tensors, subgraphs), by
    /// tensor name, in file order.
    /// - Throws: `MLSecError.malformed` for a message that does not decode.
    package static func externalDataLocations(_ c: inout ByteCursor) throws -> [(tensor: String, path: String)] {
        var locations: [(tensor: String, path: String)] = []
        try message(&c, end: c.size, kind: .model, depth: 0, locations: &locations)
        return locations
    }

    private enum Kind { case model, graph, node, attribute, tensor, sparseTensor, entry }

    /// Decodes fields up to `end`, descending into the submessages that can hold tensors.
    private static func message(_ c: inout ByteCursor, end: Int, kind: Kind, depth: Int,
                         locations: inout [(tensor: String, path: String)]) throws {
        guard depth < 64 else { throw MLSecError.malformed("ONNX messages nested deeper than 64 levels") }
        var tensorName = ""
        var entryKey = ""
        var entryValue = ""
        var externalPaths: [String] = []
        while c.position < end {
            let tag = try c.varint("protobuf field")
            let field = tag >> 3
            let wire = tag & 7
            guard field > 0 else { throw MLSecError.malformed("invalid protobuf field number 0 at offset \(c.position)") }
            switch wire {
            case 0: _ = try c.varint("protobuf field")
            case 1: try c.skip(8, "fixed64 field")
            case 5: try c.skip(4, "fixed32 field")
            case 2:
                let length = try c.varint("protobuf field")
                guard length <= UInt64(end - c.position) else {
                    throw MLSecError.malformed("field \(field) of length \(length) at offset \(c.position) runs past its message")
                }
                let stop = c.position + Int(length)
                switch (kind, field) {
                case (.model, 7), (.attribute, 6), (.attribute, 11):
                    try message(&c, end: stop, kind: .graph, depth: depth + 1, locations: &locations)
                case (.graph, 1):
                    try message(&c, end: stop, kind: .node, depth: depth + 1, locations: &locations)
                case (.graph, 5), (.attribute, 5), (.attribute, 10), (.sparseTensor, 1), (.sparseTensor, 2):
                    try message(&c, end: stop, kind: .tensor, depth: depth + 1, locations: &locations)
                case (.graph, 15), (.attribute, 22), (.attribute, 23):
                    try message(&c, end: stop, kind: .sparseTensor, depth: depth + 1, locations: &locations)
                case (.node, 5):
                    try message(&c, end: stop, kind: .attribute, depth: depth + 1, locations: &locations)
                case (.tensor, 8):
                    tensorName = String(decoding: try c.take(min(Int(length), 4096), "tensor name"), as: UTF8.self)
                    try c.skip(stop - c.position, "tensor name")
                case (.tensor, 13):
                    var sub = [(tensor: String, path: String)]()
                    try message(&c, end: stop, kind: .entry, depth: depth + 1, locations: &sub)
                    externalPaths.append(contentsOf: sub.map(\.path))
                case (.entry, 1):
                    entryKey = String(decoding: try c.take(min(Int(length), 4096), "key"), as: UTF8.self)
                    try c.skip(stop - c.position, "key")
                case (.entry, 2):
                    entryValue = String(decoding: try c.take(min(Int(length), 4096), "value"), as: UTF8.self)
                    try c.skip(stop - c.position, "value")
                default:
                    try c.skip(Int(length), "field \(field)")
                }
                guard c.position == stop else { throw MLSecError.malformed("submessage at offset \(stop) is inconsistent") }
            default:
                throw MLSecError.malformed("unsupported protobuf wire type \(wire) at offset \(c.position)")
            }
        }
        guard c.position == end else { throw MLSecError.malformed("message runs past its declared end") }
        if kind == .entry, entryKey == "location" { locations.append(("", entryValue)) }
        if kind == .tensor { locations.append(contentsOf: externalPaths.map { (tensorName, $0) }) }
    }
}
