// NumpyInspector: judges .npy content: a malformed header or size, and the pickle inside object arrays.

import MLSecCore
import MLSecFormats

/// Inspects NumPy `.npy` content (also the members of `.npz` archives).
struct NumpyInspector {
    let scanner: ModelScanner

    func inspect(_ source: ModelScanner.Source, location: String?, findings: inout [Finding]) throws {
        let bytes = try source.readAll(maxBytes: scanner.options.maxMemberBytes, what: "NumPy file")
        let header: NumpyHeader
        do {
            header = try NumpyHeader(parsing: bytes)
        } catch let error as MLSecError {
            findings.append(Finding(.high, rule: "numpy-malformed", message: error.message, location: location, class: .malformed))
            return
        }
        if header.descr.contains("O") {
            let payload = Array(bytes[header.dataOffset...])
            findings.append(Finding(.medium, rule: "numpy-object-array",
                                    message: "object array (dtype \(header.descr)): its data is a pickle, scanned below",
                                    location: location, class: .informational))
            let analysis = PickleEmulator(limits: scanner.options.pickleLimits).analyze(bytes: payload)
            PickleJudge(policy: scanner.options.policy).judge(
                analysis, location: scanner.join(location, "object-array-pickle"), into: &findings)
            return
        }
        guard let itemSize = NumpyHeader.itemSize(header.descr) else {
            findings.append(Finding(.high, rule: "numpy-malformed", message: "unknown dtype \"\(header.descr.prefix(40))\"",
                                    location: location, class: .malformed))
            return
        }
        var count = 1
        for d in header.shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else {
                findings.append(Finding(.high, rule: "numpy-malformed", message: "shape \(header.shape) overflows",
                                        location: location, class: .malformed))
                return
            }
            count = p
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: itemSize)
        if overflow || needed != bytes.count - header.dataOffset {
            findings.append(Finding(.high, rule: "numpy-malformed",
                                    message: "shape \(header.shape) of \(header.descr) needs \(overflow ? "too many" : String(needed)) bytes, the file holds \(bytes.count - header.dataOffset)",
                                    location: location, class: .malformed))
        }
    }
}
