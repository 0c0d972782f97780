// CSVRow: one parsed row, a view of the reader's buffer: field boundaries, and each plain decimal field's value,
// parsed by the splitter while it looked for the field's end.

/// One field's place in the buffer and, for a plain decimal literal, its value.
@usableFromInline
struct CSVFieldSlot {
    @usableFromInline var start: Int
    @usableFromInline var end: Int
    @usableFromInline var value: Double
    /// `kindUnparsed`, `kindInteger` (digits only), `kindDecimal` (digits with a point) or `kindQuoted`.
    @usableFromInline var kind: UInt8

    @usableFromInline static let kindUnparsed: UInt8 = 0
    @usableFromInline static let kindInteger: UInt8 = 1
    @usableFromInline static let kindDecimal: UInt8 = 2
    @usableFromInline static let kindQuoted: UInt8 = 3
}

/// The reader's reusable field table (grows to the widest row seen, up to `CSVStream.maxFields`).
final class CSVRowStorage {
    var slots: UnsafeMutablePointer<CSVFieldSlot>
    var capacity: Int

    init() {
        capacity = 256
        slots = .allocate(capacity: capacity)
    }

    deinit { slots.deallocate() }

    func grow() {
        let bigger = UnsafeMutablePointer<CSVFieldSlot>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: slots, count: capacity)
        slots.deallocate()
        slots = bigger
        capacity *= 2
    }
}

/// A row's fields, valid only during the callback that receives it.
public struct CSVRow {
    @usableFromInline let slots: UnsafeMutablePointer<CSVFieldSlot>
    @usableFromInline let bytes: UnsafePointer<UInt8>
    public let count: Int
    /// Whether any field was in double quotes.
    public let hasQuotedField: Bool

    init(slots: UnsafeMutablePointer<CSVFieldSlot>, bytes: UnsafePointer<UInt8>, count: Int, hasQuotedField: Bool) {
        self.slots = slots
        self.bytes = bytes
        self.count = count
        self.hasQuotedField = hasQuotedField
    }

    /// The row's bytes from its first field's start to its last field's end: its fields joined by commas when no
    /// field is quoted (the line end excluded).
    public var span: UnsafeBufferPointer<UInt8> {
        guard count > 0 else { return UnsafeBufferPointer(start: bytes, count: 0) }
        return UnsafeBufferPointer(start: bytes + slots[0].start, count: slots[count - 1].end - slots[0].start)
    }

    /// The raw bytes of field `i` (without its surrounding quotes; a doubled quote inside stays doubled: use
    /// `string(_:)` for the unescaped text).
    @inlinable
    public func field(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        precondition(i >= 0 && i < count, "field index out of range")
        let slot = slots[i]
        return UnsafeBufferPointer(start: bytes + slot.start, count: slot.end - slot.start)
    }

    /// Whether field `i` was in double quotes.
    @inlinable
    public func isQuoted(_ i: Int) -> Bool {
        precondition(i >= 0 && i < count, "field index out of range")
        return slots[i].kind == CSVFieldSlot.kindQuoted
    }

    /// Field `i` as a number, as `FastNumber.parse` reads it, and whether its literal is an integer (no decimal
    /// point, no exponent). Plain decimals were parsed while the row was split; other fields are parsed here.
    @inlinable @inline(__always)
    public func numberLiteral(_ i: Int) -> (value: Double, isInteger: Bool)? {
        precondition(i >= 0 && i < count, "field index out of range")
        let slot = slots[i]
        switch slot.kind {
        case CSVFieldSlot.kindInteger: return (slot.value, true)
        case CSVFieldSlot.kindDecimal: return (slot.value, false)
        default:
            let raw = UnsafeBufferPointer(start: bytes + slot.start, count: slot.end - slot.start)
            guard let v = FastNumber.parse(raw) else { return nil }
            return (v, !raw.contains { $0 == 0x2E || $0 == 0x65 || $0 == 0x45 })
        }
    }

    /// Field `i` as a number (`FastNumber.parse` of its bytes), nil when it is not one.
    @inlinable
    public func number(_ i: Int) -> Double? { numberLiteral(i)?.value }

    /// Field `i` as text, quotes unescaped, invalid UTF-8 repaired.
    public func string(_ i: Int) -> String {
        let raw = field(i)
        guard isQuoted(i) else { return String(decoding: raw, as: UTF8.self) }
        return String(decoding: Self.unescaped(raw), as: UTF8.self)
    }

    /// The bytes of a quoted field with each doubled quote made single.
    public static func unescaped(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var j = 0
        while j < raw.count {
            out.append(raw[j])
            if raw[j] == UInt8(ascii: "\""), j + 1 < raw.count, raw[j + 1] == UInt8(ascii: "\"") { j += 1 }
            j += 1
        }
        return out
    }

    /// Whether field `i` is empty (missing).
    public func isEmpty(_ i: Int) -> Bool { field(i).isEmpty }
}
