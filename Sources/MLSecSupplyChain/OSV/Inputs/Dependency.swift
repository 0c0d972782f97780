// Dependency: what an input file (requirements, Package.resolved, BOM) pins, and what it could not audit.

/// A pinned dependency to audit.
public struct Dependency: Sendable, Hashable {
    public var ecosystem: Ecosystem
    /// The name as the input writes it (a PyPI project name, or a Swift package's repository URL).
    public var name: String
    /// The pinned version, as written.
    public var version: String
    /// Where it was read: `file:line`, or `file: pins[3]`.
    public var origin: String

    public init(ecosystem: Ecosystem, name: String, version: String, origin: String) {
        self.ecosystem = ecosystem
        self.name = name
        self.version = version
        self.origin = origin
    }
}

/// An entry of the input that was not audited, and why (never dropped silently).
public struct SkippedDependency: Sendable, Hashable {
    public var name: String
    public var origin: String
    /// E.g. "not pinned, not audited", "pinned by revision only, not audited", "unsupported ecosystem npm".
    public var reason: String

    public init(name: String, origin: String, reason: String) {
        self.name = name
        self.origin = origin
        self.reason = reason
    }
}

/// The dependencies an input file names.
public struct DependencyList: Sendable {
    public var dependencies: [Dependency] = []
    public var skipped: [SkippedDependency] = []
    public init() {}

    /// Most entries one input may name (requirements lines, pins or BOM components, includes counted).
    public static let maxEntries = 1_000_000
}
