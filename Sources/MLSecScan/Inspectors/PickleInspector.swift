// PickleInspector: judges a pickle stream: every pickle in it, the layout torch.save gives it, and what hides
// in bytes after the last one.

import MLSecCore
import MLSecFormats

/// Inspects pickle files and members. Several pickles back to back are judged each by its content (the legacy
/// `torch.save` format is five of them followed by raw storages); bytes after the last pickle that are no known
/// layout are a finding of their own and are searched for pickles a seeking loader could reach.
struct PickleInspector {
    let scanner: ModelScanner
    /// Trailing bytes searched for embedded pickles, at most.
    static let maxSearchBytes = 64 << 20
    /// Bytes emulated from each embedded `PROTO`, at most.
    static let maxEmbeddedBytes = 4 << 20

    func inspect(_ source: ModelScanner.Source, prefix: [UInt8], location: String?, findings: inout [Finding]) throws -> String {
        let layout = PickleStreamLayout.detect(prefix: prefix)
        let emulator = PickleEmulator(limits: scanner.options.pickleLimits, layout: layout)
        let analysis: PickleAnalysis
        let size: Int
        switch source {
        case .file(let path, let fileSize):
            analysis = try emulator.analyze(path: path)
            size = fileSize
        case .bytes(let b):
            analysis = emulator.analyze(bytes: b)
            size = b.count
        }
        PickleJudge(policy: scanner.options.policy).judge(analysis, location: location, into: &findings)
        if analysis.trailingBytes > 0 {
            let start = size - analysis.trailingBytes
            findings.append(Finding(.high, rule: "pickle-trailing-data",
                                    message: "\(analysis.trailingBytes) bytes after the last pickle are not a pickle or a layout a loader reads; searched for hidden pickles",
                                    location: (location.map { "\($0)@" } ?? "offset ") + String(start), class: .malformed))
            let trailing = try read(source, from: start, count: min(analysis.trailingBytes, Self.maxSearchBytes))
            searchEmbedded(trailing, base: start, location: location, findings: &findings)
        }
        return layout == .legacyTorchFile ? "pytorch-legacy" : "pickle"
    }

    func read(_ source: ModelScanner.Source, from start: Int, count: Int) throws -> [UInt8] {
        switch source {
        case .bytes(let b):
            return Array(b[start..<min(b.count, start + count)])
        case .file(let path, _):
            let file = try ReadOnlyFile(path: path, followSymlinks: false, nonBlocking: true)
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = try buffer.withUnsafeMutableBytes { raw in
                    try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]), at: Int64(start + done))
                }
                guard n > 0 else { break }
                done += n
            }
            return Array(buffer.prefix(done))
        }
    }

    /// Judges what a seeking loader could unpickle inside `bytes` (which start at stream offset `base`).
    func searchEmbedded(_ bytes: [UInt8], base: Int, location: String?, findings: inout [Finding]) {
        let policy = scanner.options.policy
        func at(_ offset: Int) -> String { (location.map { "\($0)@" } ?? "offset ") + String(base + offset) }
        var reported = Set<String>()  // imports already reported from an emulated embedded pickle
        bytes.withUnsafeBytes { raw in
            for candidate in EmbeddedPickleSearch.candidates(in: raw) {
                switch candidate {
                case .textImport(let offset, let module, let name):
                    guard !reported.contains("\(module).\(name)"),
                        case .denied(let dangerous, let reason) = policy.decide(module: module, name: name) else { continue }
                    findings.append(Finding(dangerous ? .critical : .high, rule: "pickle-embedded",
                                            message: "a pickle import of \(module).\(name) (\(reason ?? "not allowed")) hidden in the bytes after the last pickle",
                                            location: at(offset)))
                case .proto(let offset):
                    let end = min(raw.count, offset + Self.maxEmbeddedBytes)
                    let analysis = PickleEmulator(limits: scanner.options.pickleLimits)
                        .analyze(buffer: UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                    guard analysis.pickleCount >= 1 else { continue }  // no STOP reached: not a pickle
                    var embedded: [Finding] = []
                    PickleJudge(policy: policy).judge(analysis, location: nil, into: &embedded)
                    for var finding in embedded where finding.findingClass == .unsafe {
                        finding.rule = "pickle-embedded"
                        finding.message = "in a pickle hidden after the last one (it starts here): " + finding.message
                        finding.location = at(offset)
                        findings.append(finding)
                    }
                    for callable in analysis.callables { reported.insert(callable.qualifiedName) }
                }
            }
        }
    }
}
