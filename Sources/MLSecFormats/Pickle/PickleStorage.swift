// PickleStorage: the emulator's stack, memo, container arena and string table, in manually grown buffers.

/// A growable buffer of `Element`s owned by one emulator run: `Array` without copy-on-write checks on every
/// push and pop. Index checks are preconditions (they guard the emulator's own logic; input never reaches them
/// unchecked).
struct PickleBuffer<Element: BitwiseCopyable>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 64) {
        let initial = max(16, capacity)
        base = .allocate(capacity: initial)
        self.capacity = initial
    }

    deinit {
        base.deallocate()
    }

    /// Makes room for `n` elements in all.
    mutating func reserve(_ n: Int) {
        guard n > capacity else { return }
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: n)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = n
    }

    @inline(__always)
    mutating func append(_ element: consuming Element) {
        if count == capacity { reserve(capacity &* 2) }
        (base + count).initialize(to: element)
        count &+= 1
    }

    /// Appends `n` copies of `element`.
    mutating func append(_ element: Element, times n: Int) {
        guard n > 0 else { return }
        if count + n > capacity { reserve(max(count + n, capacity &* 2)) }
        (base + count).initialize(repeating: element, count: n)
        count &+= n
    }

    /// Removes and returns the last element; the buffer must not be empty.
    @inline(__always)
    mutating func removeLast() -> Element {
        precondition(count > 0)
        count &-= 1
        return (base + count).move()
    }

    /// Removes the elements from `index` to the end.
    @inline(__always)
    mutating func truncate(to index: Int) {
        precondition(index >= 0 && index <= count)
        count = index
    }

    /// Changes every element in place.
    mutating func updateEach(_ body: (inout Element) -> Void) {
        for index in 0..<count { body(&base[index]) }
    }

    @inline(__always)
    subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count)
            return base[index]
        }
        set {
            precondition(index >= 0 && index < count)
            base[index] = newValue
        }
    }

    /// The elements from `index` to the end, valid until the buffer next changes.
    @inline(__always)
    func suffix(from index: Int) -> UnsafeBufferPointer<Element> {
        precondition(index >= 0 && index <= count)
        return UnsafeBufferPointer(start: base + index, count: count - index)
    }

    /// All the elements, valid until the buffer next changes.
    var all: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }
}

/// The memo: keys `0..<dense.count` in a buffer (pickles number memo entries from 0), other keys in a
/// dictionary.
struct PickleMemo: ~Copyable {
    private var dense = PickleBuffer<PickleValue>()
    private var sparse: [Int: PickleValue] = [:]

    /// Number of entries.
    var count: Int { dense.count + sparse.count }

    /// Reserves room for `n` dense entries.
    mutating func reserve(_ n: Int) { dense.reserve(n) }

    /// The entry at `key`, if any.
    @inline(__always)
    func value(at key: Int) -> PickleValue? {
        if key >= 0, key < dense.count { return dense[key] }
        return sparse.isEmpty ? nil : sparse[key]
    }

    /// Changes every entry in place.
    mutating func updateEach(_ body: (inout PickleValue) -> Void) {
        dense.updateEach(body)
        for key in Array(sparse.keys) {
            if var value = sparse[key] {
                body(&value)
                sparse[key] = value
            }
        }
    }

    /// Stores `value` at `key` (not negative).
    @inline(__always)
    mutating func store(_ value: PickleValue, at key: Int) {
        if key < dense.count {
            dense[key] = value
        } else if key == dense.count, sparse.isEmpty {
            dense.append(value)
        } else {
            storeSlow(value, at: key)
        }
    }

    private mutating func storeSlow(_ value: PickleValue, at key: Int) {
        guard key == dense.count else {
            sparse[key] = value
            return
        }
        sparse.removeValue(forKey: key)
        dense.append(value)
        while let next = sparse.removeValue(forKey: dense.count) { dense.append(next) }
    }
}

/// All the containers of one stream, each with its element count and its first few elements (for dicts: keys and
/// values alternating). Lists, dicts and sets change in place (`APPEND`, `SETITEMS`, `ADDITEMS`), and every
/// stack or memo slot holding one sees the change, as in Python. Values refer to containers by index, so they
/// are cheap to copy and reference cycles cost nothing.
///
/// Nothing is freed before the stream ends, so the arena is capped: past ``maxContainers`` new containers are
/// ``PickleValue/untracked(_:)``, and past ``maxSampleSlots`` new containers are counted but keep no elements.
/// Either only makes event details less informative.
struct PickleContainers: ~Copyable {
    /// One container.
    struct Record {
        var count: Int
        /// First sample slot, or -1 before any is reserved.
        var sampleStart: Int32
        var kind: PickleContainerKind
        var sampled: UInt8
        /// Sample slots it may use (reserved on first use).
        var capacity: UInt8
    }

    /// Read access to the arena while a description is made.
    struct View {
        let records: UnsafeBufferPointer<Record>
        let samples: UnsafeBufferPointer<PickleValue>

        /// The container a value refers to, if it is a tracked one.
        func id(of value: PickleValue) -> Int? {
            guard case .container(let id) = value, id >= 0, Int(id) < records.count else { return nil }
            return Int(id)
        }

        func kind(_ id: Int) -> PickleContainerKind { records[id].kind }
        func count(_ id: Int) -> Int { records[id].count }

        /// The kept elements of container `id`, in order.
        func sample(_ id: Int) -> [PickleValue] {
            let record = records[id]
            let start = Int(record.sampleStart)
            let end = start + Int(record.sampled)
            guard start >= 0, end <= samples.count else { return [] }
            return Array(samples[start..<end])
        }
    }

    /// Sample slots of a list or set.
    static let sequenceSample = 4
    /// Sample slots of a dict (keys and values).
    /// (16 keeps the whole state of small objects such as joblib's array wrappers.)
    static let dictSample = 16
    /// Sample slots of a tuple or frozenset at most.
    static let tupleSample = 8
    /// Most containers tracked (16 bytes each).
    static let maxContainers = 4_000_000
    /// Most sample slots over all containers (16 bytes each).
    static let maxSampleSlots = 1_000_000

    private var records = PickleBuffer<Record>()
    private var samples = PickleBuffer<PickleValue>()

    /// Changes every sampled element in place.
    mutating func updateSamples(_ body: (inout PickleValue) -> Void) { samples.updateEach(body) }

    /// Read access for descriptions; valid until the arena next changes.
    var view: View { View(records: records.all, samples: samples.all) }

    /// Reserves room for `n` containers and the sample slots they may use.
    mutating func reserve(_ n: Int) {
        records.reserve(min(n, Self.maxContainers))
        samples.reserve(min(n * 2, Self.maxSampleSlots))
    }

    /// A new empty list, dict or set.
    @inline(__always)
    mutating func makeEmpty(_ kind: PickleContainerKind) -> PickleValue {
        guard records.count < Self.maxContainers else { return .untracked(kind) }
        let capacity = kind == .dict ? Self.dictSample : Self.sequenceSample
        records.append(Record(count: 0, sampleStart: -1, kind: kind, sampled: 0, capacity: UInt8(capacity)))
        return .container(Int32(truncatingIfNeeded: records.count - 1))
    }

    /// A new container holding `items` (for dicts: keys and values alternating).
    mutating func make(_ kind: PickleContainerKind, items: UnsafeBufferPointer<PickleValue>) -> PickleValue {
        guard records.count < Self.maxContainers else { return .untracked(kind) }
        let capacity: Int
        switch kind {
        case .tuple, .frozenset: capacity = min(items.count, Self.tupleSample)
        case .dict: capacity = Self.dictSample
        case .list, .set: capacity = Self.sequenceSample
        }
        records.append(Record(count: 0, sampleStart: -1, kind: kind, sampled: 0, capacity: UInt8(capacity)))
        let id = records.count - 1
        if kind == .dict {
            addPairs(to: id, items)
        } else {
            add(to: id, items)
        }
        return .container(Int32(truncatingIfNeeded: id))
    }

    /// The container a value refers to, if it is a tracked one of kind `kind`.
    @inline(__always)
    func id(of value: PickleValue, kind: PickleContainerKind) -> Int? {
        guard case .container(let raw) = value else { return nil }
        let id = Int(raw)
        guard id >= 0, id < records.count, records[id].kind == kind else { return nil }
        return id
    }

    /// Free sample slots of container `id`; reserves its slots on first use.
    @inline(__always)
    private mutating func room(_ id: Int) -> Int {
        let record = records[id]
        guard record.sampleStart >= 0 else {
            let capacity = Int(record.capacity)
            guard capacity > 0, samples.count + capacity <= Self.maxSampleSlots else {
                records[id].capacity = 0
                return 0
            }
            records[id].sampleStart = Int32(truncatingIfNeeded: samples.count)
            samples.append(.none, times: capacity)
            return capacity
        }
        return Int(record.capacity) - Int(record.sampled)
    }

    @inline(__always)
    private mutating func keep(_ id: Int, _ value: PickleValue) {
        let slot = Int(records[id].sampleStart) + Int(records[id].sampled)
        samples[slot] = value
        records[id].sampled += 1
    }

    /// Appends one element (lists, sets).
    @inline(__always)
    mutating func add(to id: Int, _ value: PickleValue) {
        records[id].count &+= 1
        if records[id].sampled < records[id].capacity, room(id) > 0 { keep(id, value) }
    }

    /// Appends elements (lists, sets, tuples, frozensets).
    @inline(__always)
    mutating func add(to id: Int, _ values: UnsafeBufferPointer<PickleValue>) {
        records[id].count &+= values.count
        guard records[id].sampled < records[id].capacity else { return }
        var index = 0
        while index < values.count, room(id) > 0 {
            keep(id, values[index])
            index += 1
        }
    }

    /// Sets one key (dicts). A repeated key is counted again: the count is an upper bound.
    @inline(__always)
    mutating func set(in id: Int, key: PickleValue, value: PickleValue) {
        records[id].count &+= 1
        if records[id].sampled < records[id].capacity, room(id) >= 2 {
            keep(id, key)
            keep(id, value)
        }
    }

    /// Sets keys and values given alternating (dicts).
    @inline(__always)
    mutating func addPairs(to id: Int, _ items: UnsafeBufferPointer<PickleValue>) {
        records[id].count &+= items.count / 2
        guard records[id].sampled < records[id].capacity else { return }
        var index = 0
        while index + 1 < items.count, room(id) >= 2 {
            keep(id, items[index])
            keep(id, items[index + 1])
            index += 2
        }
    }
}

/// The strings longer than 7 bytes that values refer to (``PickleValue/string(_:)``).
///
/// Values are plain bits, so nothing tells the table when a string is no longer used. Instead, when the table
/// has grown by a margin since the last collection, ``PickleMachine`` marks the strings still reachable from
/// the stack, the memo and the container samples, and compacts the table. The margin grows with what a
/// collection scans, so the work per string stays constant, and the table stays within a small multiple of the
/// live strings.
struct PickleStrings {
    /// One string.
    struct Entry {
        /// The text, or its kept prefix.
        let text: String
        /// The full length in bytes when `text` is only the kept prefix; -1 when complete.
        let cutFrom: Int
    }

    /// Table size that triggers the next collection.
    private(set) var threshold = 1 << 16
    private(set) var entries: [Entry] = []

    /// `true` when the table should be collected before it grows.
    var isDue: Bool { entries.count >= threshold }

    /// The value for `text`; `cutFrom` is the full length in bytes when `text` is only the kept prefix.
    mutating func value(_ text: String, cutFrom: Int? = nil) -> PickleValue {
        if cutFrom == nil, text.utf8.count <= 7,
            let packed = Array(text.utf8).withUnsafeBytes({ PickleValue.packShort($0) })
        {
            return .shortString(packed)
        }
        entries.append(Entry(text: text, cutFrom: cutFrom ?? -1))
        return .string(Int32(truncatingIfNeeded: entries.count - 1))
    }

    /// The text of a str value and whether it is complete; `nil` for other values.
    func text(_ value: PickleValue) -> (String, complete: Bool)? {
        switch value {
        case .shortString(let packed):
            return (PickleValue.unpackShort(packed), true)
        case .string(let index):
            guard index >= 0, Int(index) < entries.count else { return nil }
            let entry = entries[Int(index)]
            return (entry.text, entry.cutFrom < 0)
        default:
            return nil
        }
    }

    /// Keeps only the entries whose `marked` flag is set, and returns the new index of each kept entry (-1 for
    /// dropped ones). `scanned` is the number of values the marking looked at; it sets the next threshold.
    mutating func compact(keeping marked: [Bool], scanned: Int) -> [Int32] {
        var remap = [Int32](repeating: -1, count: entries.count)
        var kept: [Entry] = []
        for index in entries.indices where index < marked.count && marked[index] {
            remap[index] = Int32(truncatingIfNeeded: kept.count)
            kept.append(entries[index])
        }
        entries = kept
        threshold = kept.count + max(1 << 16, kept.count, scanned / 4)
        return remap
    }
}
