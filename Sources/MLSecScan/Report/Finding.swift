// Finding: one thing the scanner reports about a file, with its severity, rule and location.

/// How bad a finding is.
public enum Severity: String, Sendable, Comparable, CaseIterable {
    case low, medium, high, critical

    var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        case .critical: 3
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// What the finding means for the file's verdict.
public enum FindingClass: Sendable, Equatable {
    /// Code could run or the file cannot be shown safe: the verdict becomes unsafe.
    case unsafe
    /// The file breaks its format's rules: the verdict becomes malformed.
    case malformed
    /// Worth a look, does not change the verdict (for example a GGUF chat template).
    case informational
}

/// One reported problem. Two findings are equal only when every field is, the class (which decides the
/// verdict) included.
public struct Finding: Sendable, Equatable {
    public var severity: Severity
    /// Stable rule identifier, e.g. `pickle-dangerous-callable`.
    public var rule: String
    public var message: String
    /// Where: a byte offset, an archive member, a tensor name.
    public var location: String?
    public var findingClass: FindingClass

    public init(_ severity: Severity, rule: String, message: String, location: String? = nil,
                class findingClass: FindingClass = .unsafe) {
        self.severity = severity
        self.rule = rule
        self.message = message
        self.location = location
        self.findingClass = findingClass
    }
}

/// The verdict on one file.
public enum Verdict: String, Sendable {
    case clean, unsafe, malformed, unsupported
}

/// What the scanner found in one file.
public struct FileReport: Sendable {
    public var path: String
    /// Detected format, by content (e.g. `pickle`, `pytorch-zip`, `numpy`, `safetensors`, `gguf`).
    public var format: String
    public var findings: [Finding]
    /// Set when the format is not one the scanner understands.
    public var unsupported: Bool

    public init(path: String, format: String, findings: [Finding] = [], unsupported: Bool = false) {
        self.path = path
        self.format = format
        self.findings = findings
        self.unsupported = unsupported
    }

    public var verdict: Verdict {
        if findings.contains(where: { $0.findingClass == .unsafe }) { return .unsafe }
        if findings.contains(where: { $0.findingClass == .malformed }) { return .malformed }
        if unsupported { return .unsupported }
        return .clean
    }
}

/// The result of a scan over many files.
public struct ScanReport: Sendable {
    public var files: [FileReport]

    public init(files: [FileReport]) { self.files = files }

    /// `true` when every file is clean (unsupported files do not count as failures).
    public var isClean: Bool { files.allSatisfy { $0.verdict == .clean || $0.verdict == .unsupported } }

    public func count(_ verdict: Verdict) -> Int { files.filter { $0.verdict == verdict }.count }
}
