// PickleLimits: the caps that keep emulating a hostile pickle bounded in time and memory.

/// Caps on the work and memory ``PickleEmulator`` spends on one stream. Reaching one is reported as a
/// ``PickleAnalysis/Issue`` of kind `limit`, and emulation stops there.
public struct PickleLimits: Sendable, Equatable {
    /// Most opcodes executed over the whole stream.
    public var maxOpcodes: Int
    /// Most values on the stack at once.
    public var maxStackDepth: Int
    /// Most memo entries (kept across the pickles of one stream).
    public var maxMemoEntries: Int
    /// Most marks open at once (`MARK` nesting).
    public var maxMarkDepth: Int
    /// Longest string kept, in bytes (at most 1 MiB whatever the value); the rest of a longer one is skipped
    /// and only its length kept. Text lines of protocol 0 keep at least 256 bytes.
    public var maxStringBytes: Int
    /// Most pickles emulated in one stream (`STOP` followed by another pickle).
    public var maxPickles: Int
    /// Most events recorded; later ones are only counted in ``PickleAnalysis/droppedEvents``.
    public var maxEvents: Int
    /// Most persistent ids recorded as events (with their shape); the rest are only counted.
    public var maxPersistentIDEvents: Int
    /// Most distinct imported callables.
    public var maxCallables: Int

    /// Creates limits. The defaults allow any real model pickle, including one of several million small
    /// objects, and keep memory for a hostile one to a few hundred MiB.
    public init(
        maxOpcodes: Int = 50_000_000,
        maxStackDepth: Int = 1_000_000,
        maxMemoEntries: Int = 4_000_000,
        maxMarkDepth: Int = 100_000,
        maxStringBytes: Int = 4096,
        maxPickles: Int = 64,
        maxEvents: Int = 100_000,
        maxPersistentIDEvents: Int = 32,
        maxCallables: Int = 100_000
    ) {
        self.maxOpcodes = maxOpcodes
        self.maxStackDepth = maxStackDepth
        self.maxMemoEntries = maxMemoEntries
        self.maxMarkDepth = maxMarkDepth
        self.maxStringBytes = maxStringBytes
        self.maxPickles = maxPickles
        self.maxEvents = maxEvents
        self.maxPersistentIDEvents = maxPersistentIDEvents
        self.maxCallables = maxCallables
    }
}
