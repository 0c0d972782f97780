// ScanPolicy: which callables a pickle may import (deny by default), and which are known to be dangerous.

import MLSecCore

/// Decides, per callable, whether a pickle may import it.
///
/// Deny by default: a callable is allowed only when an allow profile or the user's policy names it (exactly,
/// or by a `module.*` prefix pattern). The curated dangerous list never allows anything; it only raises
/// the severity of what is already denied, so a new bypass that is not on it is still reported.
public struct ScanPolicy: Sendable {
    /// Exact `module.name` entries and `module.prefix.*` patterns that are allowed.
    public var allowed: Set<String>
    public var allowedPrefixes: [String]
    /// Entries the user denies even if a profile allows them.
    public var denied: Set<String>
    public var deniedPrefixes: [String]

    public init(allowed: Set<String> = AllowProfiles.all, allowedPrefixes: [String] = AllowProfiles.allPrefixes,
                denied: Set<String> = [], deniedPrefixes: [String] = []) {
        self.allowed = allowed
        self.allowedPrefixes = allowedPrefixes
        self.denied = denied
        self.deniedPrefixes = deniedPrefixes
    }

    /// The verdict for one callable.
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Not allowed; `dangerous` when the curated list knows it runs code, touches files or the network.
        case denied(dangerous: Bool, reason: String?)
    }

    public func decide(module: String, name: String) -> Decision {
        let qualified = module + "." + name
        let dangerous = DangerousCallables.reason(module: module, name: name)
        if denied.contains(qualified) || deniedPrefixes.contains(where: { qualified.hasPrefix($0) }) {
            return .denied(dangerous: dangerous != nil, reason: dangerous ?? "denied by the policy file")
        }
        if dangerous == nil,
            allowed.contains(qualified) || allowedPrefixes.contains(where: { qualified.hasPrefix($0) })
        {
            return .allowed
        }
        return .denied(dangerous: dangerous != nil, reason: dangerous)
    }

    /// Why an allow entry names only always-dangerous callables, or `nil` when it does not: an exact callable
    /// on the list (`os.system`, `builtins.eval`), or a pattern inside a dangerous module or callable (`os.*`,
    /// `builtins.getattr.*`). A broad pattern that merely contains some dangerous callables (`torch.*`) is
    /// accepted: the list still wins for those.
    static func alwaysDangerous(_ stem: String, isPrefix: Bool) -> String? {
        let dotted = isPrefix ? String(stem.dropLast()) : stem
        if isPrefix {
            // Every name under module `dotted`: dangerous when the module (or a callable it lies inside) is.
            return DangerousCallables.reason(module: dotted, name: "*")
        }
        guard let dot = dotted.lastIndex(of: ".") else { return nil }
        return DangerousCallables.reason(module: String(dotted[..<dot]), name: String(dotted[dotted.index(after: dot)...]))
    }

    /// Reads a policy file: `{"allow": ["pkg.mod.Class", "pkg.models.*"], "deny": [...]}`, added to the
    /// built-in profiles.
    /// - Throws: `MLSecError.malformed` for a malformed file, or an allow entry that names only callables on the
    ///   always-dangerous list (refused rather than silently ignored).
    public static func load(path: String) throws -> ScanPolicy {
        let json = try JSONParser(limits: .init(maxDepth: 8, maxStringBytes: 1024, maxContainerCount: 100_000))
            .parse(try ReadOnlyFile.readAll(path, maxBytes: 4 << 20, what: "policy file"), context: path)
        var policy = ScanPolicy()
        for (key, value) in json.objectValue ?? [] {
            guard key == "allow" || key == "deny" else {
                throw MLSecError.malformed("\(path): unknown key \"\(key.prefix(64))\" (expected allow, deny)")
            }
            guard let list = value.arrayValue else { throw MLSecError.malformed("\(path): \"\(key)\" must be a list") }
            for entry in list {
                guard let text = entry.stringValue, text.contains("."), !text.hasPrefix(".") else {
                    throw MLSecError.malformed("\(path): \"\(key)\" entries must be module.name or module.*")
                }
                let isPrefix = text.hasSuffix(".*")
                let stem = isPrefix ? String(text.dropLast(1)) : text
                if key == "allow", let reason = Self.alwaysDangerous(stem, isPrefix: isPrefix) {
                    throw MLSecError.malformed(
                        "\(path): \"allow\" names \(text.prefix(128)), which is on the always-dangerous list (\(reason)) and can never "
                            + "be allowed; remove it from the policy file (a pickle that imports it is always unsafe)")
                }
                switch (key, isPrefix) {
                case ("allow", false): policy.allowed.insert(stem)
                case ("allow", true): policy.allowedPrefixes.append(stem)
                case ("deny", false): policy.denied.insert(stem)
                default: policy.deniedPrefixes.append(stem)
                }
            }
        }
        if json.objectValue == nil { throw MLSecError.malformed("\(path): a policy file is a JSON object") }
        return policy
    }
}
