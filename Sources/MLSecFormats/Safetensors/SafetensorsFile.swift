// SafetensorsFile: opens a safetensors file or in-memory buffer and reads single tensors on demand.

import MLSecCore

/// A safetensors model, opened from disk or from memory, with a validated header.
///
/// Opening reads only the 8-byte length prefix and the header; tensor data is read when asked for, one tensor
/// at a time, into buffers sized from the validated header. Reads from disk use `pread`, so one value can be
/// used from several tasks at once.
public struct SafetensorsFile: Sendable {
    /// The validated header.
    public let header: SafetensorsHeader

    private enum Storage: Sendable {
        case file(ReadOnlyFile)
        case memory([UInt8])
    }

    private let storage: Storage
    /// Total size of the file or buffer when it was opened.
    private let totalByteCount: Int

    /// Opens the file at `path` and validates its header. A symlink is followed; anything but a regular file
    /// is refused.
    /// - Throws: `MLSecError` with code `io` (cannot open or read), `malformed`, `limitExceeded` or `unsupported`.
    public init(path: String, limits: SafetensorsLimits = .init()) throws {
        // Non-blocking, so that a FIFO put in place of the file cannot hang the open.
        let file = try ReadOnlyFile(path: path, nonBlocking: true)
        let status = try file.status()
        guard status.kind == .regular else {
            throw MLSecError.io("\(path) is a \(status.kind.description), not a safetensors file")
        }
        guard status.size <= Int64(limits.maxFileBytes) else {
            throw MLSecError.limitExceeded(
                "safetensors file \(path) is \(status.size) bytes, over the \(limits.maxFileBytes)-byte limit")
        }
        let size = Int(status.size)
        guard size >= 8 else {
            throw MLSecError.malformed(
                "safetensors file \(path) is \(size) bytes, shorter than the 8-byte header length")
        }
        var prefix = [UInt8](repeating: 0, count: 8)
        try prefix.withUnsafeMutableBytes { try file.readExactly(into: $0, at: 0) }
        let headerLength = try Self.checkedHeaderLength(
            prefix, totalByteCount: size, limits: limits, what: "safetensors file \(path)")
        // Bounded by maxHeaderBytes and by the file size.
        var json = [UInt8](repeating: 0, count: headerLength)
        try json.withUnsafeMutableBytes { try file.readExactly(into: $0, at: 8) }
        do {
            self.header = try SafetensorsHeader(
                headerJSON: json, dataByteCount: size - 8 - headerLength, limits: limits)
        } catch let error as MLSecError {
            throw MLSecError(error.code, "\(path): \(error.message)")
        }
        self.storage = .file(file)
        self.totalByteCount = size
    }

    /// Validates a safetensors model held in memory (for example one decrypted in memory). The bytes are kept;
    /// tensors are copied out of them on request.
    /// - Throws: `MLSecError` with code `malformed`, `limitExceeded` or `unsupported`.
    public init(bytes: [UInt8], limits: SafetensorsLimits = .init()) throws {
        guard bytes.count <= limits.maxFileBytes else {
            throw MLSecError.limitExceeded(
                "safetensors buffer is \(bytes.count) bytes, over the \(limits.maxFileBytes)-byte limit")
        }
        guard bytes.count >= 8 else {
            throw MLSecError.malformed(
                "safetensors buffer is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = try Self.checkedHeaderLength(
            Array(bytes[0..<8]), totalByteCount: bytes.count, limits: limits, what: "safetensors buffer")
        self.header = try SafetensorsHeader(
            headerJSON: Array(bytes[8..<(8 + headerLength)]), dataByteCount: bytes.count - 8 - headerLength,
            limits: limits)
        self.storage = .memory(bytes)
        self.totalByteCount = bytes.count
    }

    /// Decodes the little-endian length prefix and checks it against the limit and the total size.
    private static func checkedHeaderLength(_ prefix: [UInt8], totalByteCount: Int, limits: SafetensorsLimits,
                                            what: String) throws -> Int {
        var length: UInt64 = 0
        for (shift, byte) in prefix.prefix(8).enumerated() { length |= UInt64(byte) << (8 * UInt64(shift)) }
        guard length > 0 else { throw MLSecError.malformed("\(what) has a header length of 0") }
        // Compared as UInt64, so lengths up to 2^64 - 1 are rejected without converting to Int.
        guard length <= UInt64(max(limits.maxHeaderBytes, 0)) else {
            throw MLSecError.limitExceeded(
                "\(what) declares a \(length)-byte header, over the \(limits.maxHeaderBytes)-byte limit")
        }
        // totalByteCount >= 8 here, so the subtraction cannot underflow.
        guard length <= UInt64(totalByteCount - 8) else {
            throw MLSecError.malformed(
                "\(what) declares a \(length)-byte header, which extends beyond the end of the "
                    + "\(totalByteCount)-byte file")
        }
        return Int(length)
    }

    // MARK: - Reading tensors

    /// The tensor called `name`, or a `usage` error naming it.
    private func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let info = header.tensor(named: name) else {
            throw MLSecError.usage("the safetensors file has no tensor named \(quoted(name))")
        }
        // Check the range again: `header` is a value that could have been built or changed elsewhere.
        let range = info.dataRange
        let (expected, overflow) = info.elementCount.multipliedReportingOverflow(by: info.dtype.byteCount)
        let (absoluteEnd, endOverflow) = header.dataStart.addingReportingOverflow(range.upperBound)
        guard range.lowerBound >= 0, !overflow, expected == range.count, !endOverflow, absoluteEnd <= totalByteCount
        else {
            throw MLSecError.malformed(
                "tensor \(quoted(name)) data_offsets [\(range.lowerBound), \(range.upperBound)] do not fit its "
                    + "\(info.elementCount) \(info.dtype.rawValue) elements within the \(totalByteCount)-byte file")
        }
        return info
    }

    /// Copies `count` bytes starting at data-relative `offset` into `buffer` (whose size is `count`).
    private func read(into buffer: UnsafeMutableRawBufferPointer, dataOffset offset: Int) throws {
        guard !buffer.isEmpty else { return }
        switch storage {
        case .file(let file):
            try file.readExactly(into: buffer, at: Int64(header.dataStart + offset))
        case .memory(let bytes):
            bytes.withUnsafeBytes { source in
                let start = header.dataStart + offset
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + buffer.count)]))
            }
        }
    }

    /// The raw little-endian bytes of tensor `name`, exactly `dataRange.count` of them.
    /// - Throws: `usage` when there is no such tensor; `io` when the file cannot be read or has shrunk.
    public func rawBytes(_ name: String) throws -> [UInt8] {
        let info = try info(name)
        var bytes = [UInt8](repeating: 0, count: info.dataRange.count)
        try bytes.withUnsafeMutableBytes { try read(into: $0, dataOffset: info.dataRange.lowerBound) }
        return bytes
    }

    /// The values of tensor `name` as `Float`s, in row-major order, reading only that tensor's bytes.
    ///
    /// F32, F16, BF16 and both F8 types convert exactly (NaNs stay NaN). F64 and 32/64-bit integers round to
    /// the nearest `Float` (F64 values beyond the `Float` range become infinities). BOOL gives 0 or 1.
    /// - Throws: `usage` when there is no such tensor; `io` when the file cannot be read or has shrunk.
    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        let dtype = info.dtype
        let count = info.elementCount
        let base = info.dataRange.lowerBound
        if count == 0 { return [] }

        #if _endian(little)
        if dtype == .f32 {
            // Same layout as the host: read straight into the result.
            return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                try read(into: UnsafeMutableRawBufferPointer(buffer), dataOffset: base)
                initialized = count
            }
        }
        #endif

        var result: [Float] = []
        result.reserveCapacity(count)
        let chunkElements = max(1, (1 << 16) / dtype.byteCount)
        var chunk = [UInt8](repeating: 0, count: min(count, chunkElements) * dtype.byteCount)
        var done = 0
        while done < count {
            let n = min(chunkElements, count - done)
            try chunk.withUnsafeMutableBytes { raw in
                let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * dtype.byteCount)])
                try read(into: part, dataOffset: base + done * dtype.byteCount)
                Self.convert(UnsafeRawBufferPointer(part), dtype: dtype, count: n, into: &result)
            }
            done += n
        }
        return result
    }

    /// Appends `count` elements of `dtype` decoded from little-endian `raw` to `out`.
    private static func convert(_ raw: UnsafeRawBufferPointer, dtype: SafetensorsDType, count: Int,
                                into out: inout [Float]) {
        func u16(_ i: Int) -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        func u32(_ i: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
        func u64(_ i: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        switch dtype {
        case .f64: for i in 0..<count { out.append(Float(Double(bitPattern: u64(i)))) }
        case .f32: for i in 0..<count { out.append(Float(bitPattern: u32(i))) }
        case .f16: for i in 0..<count { out.append(SafetensorsDType.float(fromHalfBits: u16(i))) }
        case .bf16: for i in 0..<count { out.append(SafetensorsDType.float(fromBFloat16Bits: u16(i))) }
        case .f8E4M3: for i in 0..<count { out.append(SafetensorsDType.float(fromF8E4M3Bits: raw[i])) }
        case .f8E5M2: for i in 0..<count { out.append(SafetensorsDType.float(fromF8E5M2Bits: raw[i])) }
        case .i64: for i in 0..<count { out.append(Float(Int64(bitPattern: u64(i)))) }
        case .i32: for i in 0..<count { out.append(Float(Int32(bitPattern: u32(i)))) }
        case .i16: for i in 0..<count { out.append(Float(Int16(bitPattern: u16(i)))) }
        case .i8: for i in 0..<count { out.append(Float(Int8(bitPattern: raw[i]))) }
        case .u64: for i in 0..<count { out.append(Float(u64(i))) }
        case .u32: for i in 0..<count { out.append(Float(u32(i))) }
        case .u16: for i in 0..<count { out.append(Float(u16(i))) }
        case .u8: for i in 0..<count { out.append(Float(raw[i])) }
        case .bool: for i in 0..<count { out.append(raw[i] == 0 ? 0 : 1) }
        }
    }
}
