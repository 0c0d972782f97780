// PickleJudge: turns the pickle emulator's events into findings under the scan policy.

import MLSecFormats

/// Applies a ``ScanPolicy`` to a ``PickleAnalysis``.
struct PickleJudge {
    let policy: ScanPolicy

    func judge(_ analysis: PickleAnalysis, location: String?, into findings: inout [Finding]) {
        func at(_ offset: Int) -> String { (location.map { "\($0)@" } ?? "offset ") + String(offset) }
        var reported = Set<String>()
        for event in analysis.events {
            switch event.kind {
            case .importGlobal, .call, .newObject, .build:
                guard let callable = event.callable else { continue }
                let key = "\(callable.qualifiedName)#\(event.kind.rawValue)"
                switch policy.decide(module: callable.module, name: callable.name) {
                case .allowed:
                    continue
                case .denied(let dangerous, let reason):
                    // One finding per callable and event kind; the first offset is enough to find it.
                    guard reported.insert(key).inserted else { continue }
                    let verb = event.kind == .importGlobal ? "imports" : "calls"
                    if dangerous {
                        findings.append(Finding(.critical, rule: "pickle-dangerous-callable",
                                                message: "\(verb) \(callable.qualifiedName) (\(reason ?? "dangerous")) via \(event.opcode)",
                                                location: at(event.offset)))
                    } else {
                        findings.append(Finding(.high, rule: "pickle-unknown-callable",
                                                message: "\(verb) \(callable.qualifiedName) via \(event.opcode), which no allow profile or policy permits",
                                                location: at(event.offset)))
                    }
                }
            case .unresolvedGlobal:
                findings.append(Finding(.critical, rule: "pickle-unresolved-global",
                                        message: "\(event.opcode) builds an import from values that are not plain strings\(event.detail.map { ": \($0)" } ?? "")",
                                        location: at(event.offset)))
            case .extensionCode:
                findings.append(Finding(.high, rule: "pickle-extension-code",
                                        message: "\(event.opcode) imports through the extension registry\(event.detail.map { " (\($0))" } ?? "")",
                                        location: at(event.offset)))
            case .persistentID:
                continue
            }
        }
        if analysis.droppedEvents > 0 {
            findings.append(Finding(.medium, rule: "scan-limit",
                                    message: "\(analysis.droppedEvents) further pickle events were not reported individually",
                                    location: location, class: .informational))
        }
        if analysis.pickleCount > 1, let offset = analysis.dataAfterStopOffset {
            // Each pickle was emulated and judged above: several benign ones are benign.
            findings.append(Finding(.low, rule: "pickle-data-after-stop",
                                    message: "\(analysis.pickleCount) pickles in one stream; every one was judged (a loader reading on runs them all)",
                                    location: at(offset), class: .informational))
        }
        for issue in analysis.issues {
            switch issue.kind {
            case .malformed:
                findings.append(Finding(.high, rule: "pickle-malformed", message: issue.message, location: at(issue.offset),
                                        class: .malformed))
            case .limit:
                findings.append(Finding(.medium, rule: "scan-limit", message: issue.message, location: at(issue.offset)))
            }
        }
    }
}

/// Decides whether content without a PROTO opcode is a protocol 0/1 pickle, by emulating it.
enum PickleProbe {
    static let starters: Set<UInt8> = Set("(]}cINSVFLJKMUTXGBC)lde".utf8)
    /// Largest file probed in full.
    static let maxProbeBytes = 256 << 20

    static func isPickle(bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, starters.contains(first), bytes.count <= maxProbeBytes else { return false }
        return plausible(PickleEmulator().analyze(bytes: bytes))
    }

    static func isPickle(path: String, size: Int, prefix: [UInt8]) -> Bool {
        guard let first = prefix.first, starters.contains(first), size <= maxProbeBytes else { return false }
        guard let analysis = try? PickleEmulator().analyze(path: path) else { return false }
        return plausible(analysis)
    }

    /// At least one complete pickle, and its first problem (if any) comes after that pickle.
    static func plausible(_ a: PickleAnalysis) -> Bool {
        guard a.pickleCount >= 1 else { return false }
        return !a.issues.contains { $0.kind == .malformed && $0.offset == 0 }
    }
}
