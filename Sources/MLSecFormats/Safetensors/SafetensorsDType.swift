// SafetensorsDType: the element types of the safetensors format, their sizes and exact conversions to Float.

/// An element type of a safetensors tensor, spelled as in the file's header (`"F32"`, `"BF16"`, ...).
///
/// All multi-byte types are stored little-endian.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    /// IEEE 754 binary64.
    case f64 = "F64"
    /// IEEE 754 binary32.
    case f32 = "F32"
    /// IEEE 754 binary16.
    case f16 = "F16"
    /// bfloat16: the upper 16 bits of a binary32.
    case bf16 = "BF16"
    /// 8-bit float with 4 exponent and 3 mantissa bits, finite-only ("fn" variant: no infinities, one NaN pattern).
    case f8E4M3 = "F8_E4M3"
    /// 8-bit float with 5 exponent and 2 mantissa bits (the upper byte of a binary16).
    case f8E5M2 = "F8_E5M2"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Signed 16-bit integer.
    case i16 = "I16"
    /// Signed 8-bit integer.
    case i8 = "I8"
    /// Unsigned 64-bit integer.
    case u64 = "U64"
    /// Unsigned 32-bit integer.
    case u32 = "U32"
    /// Unsigned 16-bit integer.
    case u16 = "U16"
    /// Unsigned 8-bit integer.
    case u8 = "U8"
    /// Boolean, one byte per element (zero is false, anything else true).
    case bool = "BOOL"

    /// Size of one element in bytes.
    public var byteCount: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8E4M3, .f8E5M2, .i8, .u8, .bool: 1
        }
    }

    /// `true` for the floating-point types.
    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8E4M3, .f8E5M2: true
        default: false
        }
    }
}

extension SafetensorsDType {
    /// The binary16 value with bit pattern `bits` as a `Float`. Exact for every input: normals, subnormals,
    /// signed zeros and infinities; a NaN stays a NaN with its sign and payload (shifted into the wider field).
    public static func float(fromHalfBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1f
        let mantissa = UInt32(bits & 0x03ff)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa × 2^-24. The product is exact since mantissa < 2^10 and the
            // result is a normal binary32.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        case 0x1f:
            // Infinity (mantissa 0) or NaN.
            return Float(bitPattern: sign | 0x7f80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// The bfloat16 value with bit pattern `bits` as a `Float`; exact, since bfloat16 is the top half of a binary32.
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The F8_E5M2 value with bit pattern `bits` as a `Float` (exact; it is the upper byte of a binary16).
    public static func float(fromF8E5M2Bits bits: UInt8) -> Float {
        float(fromHalfBits: UInt16(bits) << 8)
    }

    /// The F8_E4M3 ("e4m3fn": bias 7, no infinities, `S.1111.111` is NaN, largest finite 448) value with bit
    /// pattern `bits` as a `Float`. Exact for every input.
    public static func float(fromF8E4M3Bits bits: UInt8) -> Float {
        let sign = UInt32(bits & 0x80) << 24
        let exponent = UInt32(bits >> 3) & 0x0f
        let mantissa = UInt32(bits & 0x07)
        if exponent == 0x0f, mantissa == 0x07 {
            return Float(bitPattern: sign | 0x7fc0_0000)
        }
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-9
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        return Float(bitPattern: sign | (exponent + 120) << 23 | mantissa << 20)
    }
}
