// SafetensorsHeader: parses and validates a safetensors JSON header against the size of its data buffer.

import MLSecCore

/// Where one tensor lies in a safetensors file and how to read it.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name (its key in the header).
    public var name: String
    /// Element type.
    public var dtype: SafetensorsDType
    /// Dimensions; empty for a scalar.
    public var shape: [Int]
    /// Byte range of the tensor's data, relative to the start of the data buffer (not of the file).
    public var dataRange: Range<Int>
    /// Number of elements: the product of `shape` (1 for a scalar).
    public var elementCount: Int

    /// Creates a tensor description. ``SafetensorsHeader`` creates only validated ones.
    public init(name: String, dtype: SafetensorsDType, shape: [Int], dataRange: Range<Int>, elementCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataRange = dataRange
        self.elementCount = elementCount
    }

    /// Size of the tensor's data in bytes.
    public var byteCount: Int { dataRange.count }
}

/// Limits applied to untrusted safetensors files. A file over a limit is rejected with a `limitExceeded` error.
public struct SafetensorsLimits: Sendable {
    /// Largest JSON header, in bytes (the 8-byte length prefix excluded).
    public var maxHeaderBytes: Int
    /// Most tensors in one file.
    public var maxTensors: Int
    /// Most dimensions of one tensor.
    public var maxRank: Int
    /// Largest file (or in-memory buffer), in bytes.
    public var maxFileBytes: Int

    /// Creates limits; the defaults admit every realistic model (100 MiB header, a million tensors,
    /// rank 16, 1 TiB files).
    public init(maxHeaderBytes: Int = 100 << 20, maxTensors: Int = 1_000_000, maxRank: Int = 16,
                maxFileBytes: Int = 1 << 40) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTensors = maxTensors
        self.maxRank = maxRank
        self.maxFileBytes = maxFileBytes
    }
}

/// The validated header of a safetensors file.
///
/// Validation is complete: every tensor has a known dtype, a shape of non-negative integers whose element
/// count times the element size equals its byte range without overflow, and the ranges tile the data buffer
/// exactly (no overlap, no gap, no trailing bytes). Members of a tensor entry other than `dtype`, `shape` and
/// `data_offsets` are ignored, as the reference implementation does. Duplicate keys anywhere are rejected.
public struct SafetensorsHeader: Sendable {
    /// The tensors, sorted by the start of their data (ties, which only zero-sized tensors can have, by name).
    public var tensors: [SafetensorsTensorInfo]
    /// The `__metadata__` object, or empty when the file has none.
    public var metadata: [String: String]
    /// Length of the JSON header in bytes (the `N` of the 8-byte prefix), padding included.
    public var headerByteCount: Int
    /// Offset of the data buffer from the start of the file: `8 + N`.
    public var dataStart: Int
    /// Length of the data buffer in bytes.
    public var dataByteCount: Int

    private var indexByName: [String: Int]

    /// The reserved key holding string metadata.
    public static let metadataKey = "__metadata__"

    /// The tensor called `name`, or `nil`.
    public func tensor(named name: String) -> SafetensorsTensorInfo? {
        // The index is built at parse time; `tensors` is mutable, so confirm the hit and fall back to a scan.
        if let index = indexByName[name], tensors.indices.contains(index), tensors[index].name == name {
            return tensors[index]
        }
        return tensors.first { $0.name == name }
    }

    /// Parses and validates a header.
    /// - Parameters:
    ///   - headerJSON: the `N` header bytes that follow the length prefix (trailing space padding allowed).
    ///   - dataByteCount: the number of bytes after the header, which the tensors must cover exactly.
    /// - Throws: `MLSecError` with code `malformed` (structure, types, offsets), `limitExceeded` (a
    ///   ``SafetensorsLimits`` bound) or `unsupported` (an unknown dtype); the message names the tensor and
    ///   the numbers involved.
    public init(headerJSON: [UInt8], dataByteCount: Int, limits: SafetensorsLimits = .init()) throws {
        guard !headerJSON.isEmpty else { throw MLSecError.malformed("safetensors header is empty (length 0)") }
        guard headerJSON.count <= limits.maxHeaderBytes else {
            throw MLSecError.limitExceeded(
                "safetensors header is \(headerJSON.count) bytes, over the \(limits.maxHeaderBytes)-byte limit")
        }
        guard dataByteCount >= 0 else {
            throw MLSecError.malformed("safetensors data buffer length \(dataByteCount) is negative")
        }
        let parserLimits = JSONParser.Limits(
            maxDepth: 8, maxStringBytes: headerJSON.count,
            maxContainerCount: max(JSONParser.Limits().maxContainerCount, min(limits.maxTensors, .max - 1) + 1,
                                   limits.maxRank))
        let document = try JSONParser(limits: parserLimits).parse(headerJSON, context: "safetensors header")
        guard let members = document.objectValue else {
            throw MLSecError.malformed("safetensors header is not a JSON object")
        }

        var tensors: [SafetensorsTensorInfo] = []
        var metadata: [String: String] = [:]
        let tensorCount = members.count - (members.contains { $0.0 == Self.metadataKey } ? 1 : 0)
        guard tensorCount <= limits.maxTensors else {
            throw MLSecError.limitExceeded(
                "safetensors header lists \(tensorCount) tensors, over the limit of \(limits.maxTensors)")
        }
        tensors.reserveCapacity(tensorCount)
        for (key, value) in members {
            if key == Self.metadataKey {
                metadata = try Self.parseMetadata(value)
            } else {
                tensors.append(try Self.parseTensor(name: key, value, dataByteCount: dataByteCount, limits: limits))
            }
        }

        tensors.sort {
            ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name)
                < ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name)
        }
        try Self.checkCoverage(tensors, dataByteCount: dataByteCount)

        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(tensors.count)
        for (index, tensor) in tensors.enumerated() { indexByName[tensor.name] = index }

        self.tensors = tensors
        self.metadata = metadata
        self.headerByteCount = headerJSON.count
        self.dataStart = 8 + headerJSON.count
        self.dataByteCount = dataByteCount
        self.indexByName = indexByName
    }

    // MARK: - Entries

    private static func parseMetadata(_ value: JSONValue) throws -> [String: String] {
        guard let members = value.objectValue else {
            throw MLSecError.malformed("safetensors \(metadataKey) is not a JSON object of strings")
        }
        var metadata: [String: String] = [:]
        metadata.reserveCapacity(members.count)
        for (key, member) in members {
            guard let text = member.stringValue else {
                throw MLSecError.malformed(
                    "safetensors \(metadataKey) entry \(quoted(key)) is not a string (metadata values must be strings)")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseTensor(name: String, _ value: JSONValue, dataByteCount: Int,
                                    limits: SafetensorsLimits) throws -> SafetensorsTensorInfo {
        let where_ = "tensor \(quoted(name))"
        guard value.objectValue != nil else {
            throw MLSecError.malformed("safetensors header entry for \(where_) is not a JSON object")
        }

        guard let dtypeValue = value["dtype"] else { throw MLSecError.malformed("\(where_) has no \"dtype\"") }
        guard let dtypeText = dtypeValue.stringValue else {
            throw MLSecError.malformed("\(where_) has a \"dtype\" that is not a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeText) else {
            throw MLSecError.unsupported("\(where_) has unsupported dtype \(quoted(dtypeText))")
        }

        guard let shapeValue = value["shape"] else { throw MLSecError.malformed("\(where_) has no \"shape\"") }
        guard let shapeElements = shapeValue.arrayValue else {
            throw MLSecError.malformed("\(where_) has a \"shape\" that is not an array")
        }
        guard shapeElements.count <= limits.maxRank else {
            throw MLSecError.limitExceeded(
                "\(where_) has rank \(shapeElements.count), over the limit of \(limits.maxRank) dimensions")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeElements.count)
        for (position, element) in shapeElements.enumerated() {
            shape.append(try nonNegativeInteger(element, what: "shape entry \(position)", where_: where_))
        }

        guard let offsetsValue = value["data_offsets"] else {
            throw MLSecError.malformed("\(where_) has no \"data_offsets\"")
        }
        guard let offsets = offsetsValue.arrayValue, offsets.count == 2 else {
            throw MLSecError.malformed("\(where_) has \"data_offsets\" that are not an array of two integers")
        }
        let begin = try nonNegativeInteger(offsets[0], what: "data_offsets begin", where_: where_)
        let end = try nonNegativeInteger(offsets[1], what: "data_offsets end", where_: where_)
        guard begin <= end else {
            throw MLSecError.malformed("\(where_) has data_offsets [\(begin), \(end)] with begin after end")
        }

        var elementCount = 1
        for dimension in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw MLSecError.malformed(
                    "\(where_) has shape \(shape) whose element count overflows a 64-bit integer")
            }
            elementCount = product
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow else {
            throw MLSecError.malformed(
                "\(where_) has shape \(shape) of \(dtype.rawValue) whose byte size overflows a 64-bit integer")
        }
        guard byteCount == end - begin else {
            throw MLSecError.malformed(
                "\(where_) has shape \(shape) of \(dtype.rawValue), which needs \(byteCount) bytes, but data_offsets "
                    + "[\(begin), \(end)] span \(end - begin) bytes")
        }
        guard end <= dataByteCount else {
            throw MLSecError.malformed(
                "\(where_) has data_offsets [\(begin), \(end)] that extend beyond the \(dataByteCount)-byte "
                    + "data buffer")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end,
                                     elementCount: elementCount)
    }

    /// An integer written as plain digits (no sign, fraction or exponent), as the format's unsigned fields require.
    private static func nonNegativeInteger(_ value: JSONValue, what: String, where_: String) throws -> Int {
        guard case .number(let text) = value else {
            throw MLSecError.malformed("\(where_) has a \(what) that is not a number")
        }
        if text.hasPrefix("-") {
            throw MLSecError.malformed("\(where_) has a negative \(what) (\(text.prefix(32)))")
        }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw MLSecError.malformed("\(where_) has a \(what) that is not an integer (\(text.prefix(32)))")
        }
        guard let integer = Int(text) else {
            throw MLSecError.malformed("\(where_) has a \(what) too large for a 64-bit integer (\(text.prefix(32)))")
        }
        return integer
    }

    // MARK: - Layout

    /// Checks that the sorted ranges tile `0..<dataByteCount`: no overlap, no gap, no trailing bytes.
    private static func checkCoverage(_ tensors: [SafetensorsTensorInfo], dataByteCount: Int) throws {
        var covered = 0
        var previous: SafetensorsTensorInfo?
        for tensor in tensors {
            let range = tensor.dataRange
            if range.lowerBound < covered {
                let other = previous.map {
                    "tensor \(quoted($0.name)) [\($0.dataRange.lowerBound), \($0.dataRange.upperBound)]"
                } ?? "another tensor"
                throw MLSecError.malformed(
                    "tensor \(quoted(tensor.name)) data_offsets [\(range.lowerBound), \(range.upperBound)] overlap "
                        + "\(other)")
            }
            if range.lowerBound > covered {
                let after = previous.map { "after tensor \(quoted($0.name)) " } ?? "at the start of the data buffer "
                throw MLSecError.malformed(
                    "gap in the data buffer: bytes [\(covered), \(range.lowerBound)) \(after)belong to no tensor "
                        + "(next is tensor \(quoted(tensor.name)))")
            }
            covered = range.upperBound
            previous = tensor
        }
        if covered != dataByteCount {
            throw MLSecError.malformed(
                "trailing data: the data buffer is \(dataByteCount) bytes but the tensors cover only \(covered)")
        }
    }
}

/// `text` quoted for an error message: at most 96 characters, with control and other invisible characters
/// escaped so a hostile name cannot inject terminal escape sequences.
func quoted(_ text: String) -> String {
    var out = "\""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == 96 {
            out += "…"
            break
        }
        count += 1
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned:
            out += "\\u{\(String(scalar.value, radix: 16))}"
        default:
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
