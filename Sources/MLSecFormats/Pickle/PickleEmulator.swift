// PickleEmulator: the entry point that statically analyses pickle streams from files, arrays or memory.

import MLSecCore

/// Emulates the pickle virtual machine (protocols 0 to 5) over untrusted bytes and reports every import,
/// call, `__new__`, state application, extension code and persistent id the real unpickler would perform.
///
/// Nothing is imported or executed: values are symbolic (imports are names, call results are placeholders,
/// containers keep a few elements). Every pickle in the stream is emulated, including pickles after the first
/// `STOP`, since a lenient loader runs them too. Payloads that cannot hold code (bytes, bytearrays, the rest of
/// long strings) are skipped without being read. Bad input never throws or traps: it ends the analysis with a
/// ``PickleAnalysis/Issue``.
///
/// ```swift
/// let analysis = try PickleEmulator().analyze(path: "model/data.pkl")
/// for event in analysis.events where event.kind == .call { print(event) }
/// ```
public struct PickleEmulator: Sendable {
    /// The caps on time and memory.
    public let limits: PickleLimits
    /// How the stream interleaves pickles with raw data.
    public let layout: PickleStreamLayout

    /// Creates an emulator with `limits` for streams laid out as `layout`.
    public init(limits: PickleLimits = .init(), layout: PickleStreamLayout = .plain) {
        self.limits = limits
        self.layout = layout
    }

    /// Analyses the stream in `source` from its current position to its end.
    public func analyze(_ source: inout some PickleByteSource) -> PickleAnalysis {
        var machine = PickleMachine(limits: limits, layout: layout)
        return machine.run(&source)
    }

    /// Analyses a file source (specialized for speed).
    public func analyze(_ source: inout PickleFileSource) -> PickleAnalysis {
        var machine = PickleMachine(limits: limits, layout: layout)
        return machine.run(&source)
    }

    /// Analyses an in-memory source (specialized for speed).
    public func analyze(_ source: inout PickleMemorySource) -> PickleAnalysis {
        var machine = PickleMachine(limits: limits, layout: layout)
        return machine.run(&source)
    }

    /// Analyses caller-owned memory (specialized for speed).
    public func analyze(_ source: inout PickleUnsafeMemorySource) -> PickleAnalysis {
        var machine = PickleMachine(limits: limits, layout: layout)
        return machine.run(&source)
    }

    /// Analyses the file at `path`, reading it in blocks and skipping large payloads.
    /// - Throws: `MLSecError` with code `io` when the file cannot be opened or is not a regular file. Problems
    ///   reading or parsing it later are reported as issues in the result.
    public func analyze(path: String) throws -> PickleAnalysis {
        // Non-blocking, so that a FIFO put in place of the file cannot hang the open.
        let file = try ReadOnlyFile(path: path, nonBlocking: true)
        let status = try file.status()
        guard status.kind == .regular else {
            throw MLSecError.io("\(path) is a \(status.kind.description), not a pickle file")
        }
        file.adviseSequential()
        var source = try PickleFileSource(file: file)
        return analyze(&source)
    }

    /// Analyses a pickle held in an array.
    public func analyze(bytes: [UInt8]) -> PickleAnalysis {
        var source = PickleMemorySource(bytes)
        return analyze(&source)
    }

    /// Analyses a pickle in caller-owned memory, such as a decompressed archive member.
    public func analyze(buffer: UnsafeRawBufferPointer) -> PickleAnalysis {
        var source = PickleUnsafeMemorySource(buffer)
        return analyze(&source)
    }
}
