// ModelScanner: walks paths, identifies each file by content, recurses through containers and reports findings.

import MLSecCore
import MLSecFormats

/// Limits and policy for a scan.
public struct ScanOptions: Sendable {
    public var policy: ScanPolicy
    public var pickleLimits: PickleLimits
    /// Deepest nesting of containers (zip in gzip in tar ...).
    public var maxDepth: Int
    /// Largest archive member or decompressed stream read into memory for inspection.
    public var maxMemberBytes: Int
    /// Most files taken from the command line's directories.
    public var maxFiles: Int

    public init(policy: ScanPolicy = ScanPolicy(), pickleLimits: PickleLimits = PickleLimits(), maxDepth: Int = 8,
                maxMemberBytes: Int = 2 << 30, maxFiles: Int = 1_000_000) {
        self.policy = policy
        self.pickleLimits = pickleLimits
        self.maxDepth = maxDepth
        self.maxMemberBytes = maxMemberBytes
        self.maxFiles = maxFiles
    }
}

/// Scans model files for code that would run on load and for malformed structure.
public struct ModelScanner: Sendable {
    public var options: ScanOptions

    public init(options: ScanOptions = ScanOptions()) { self.options = options }

    /// Scans files and directories (walked recursively; symbolic links are reported, not followed).
    /// - Throws: only when a path given cannot be read at all (a tool failure).
    public func scan(paths: [String]) throws -> ScanReport {
        var files: [FileReport] = []
        for path in paths {
            let status = try FileStatus.lstatus(path)
            switch status.kind {
            case .directory:
                for file in try walk(path) { files.append(scanFile(file)) }
            case .regular:
                files.append(scanFile(path))
            default:
                files.append(FileReport(path: path, format: status.kind.description, unsupported: true))
            }
        }
        return ScanReport(files: files)
    }

    func walk(_ root: String) throws -> [String] {
        var out: [String] = []
        var pending = [root]
        while let dir = pending.popLast() {
            let tree = try DirectoryListing.entries(dir)
            for entry in tree {
                let path = dir + "/" + entry
                let status = try FileStatus.lstatus(path)
                switch status.kind {
                case .directory: pending.append(path)
                case .regular: out.append(path)
                default: continue
                }
                guard out.count <= options.maxFiles else {
                    throw MLSecError.limitExceeded("\(root) holds more than \(options.maxFiles) files")
                }
            }
        }
        return out.sorted()
    }

    /// Scans one file.
    public func scanFile(_ path: String) -> FileReport {
        var findings: [Finding] = []
        do {
            let file = try ReadOnlyFile(path: path, followSymlinks: false, nonBlocking: true)
            let size = Int(try file.status().size)
            let prefix = try readPrefix(file, size: size)
            let tail = try readTail(file, size: size)
            var format = FormatSniffer.sniff(prefix: prefix, size: size, tail: tail)
            if format == .unknown, PickleProbe.isPickle(path: path, size: size, prefix: prefix) { format = .pickle }
            // MessagePack has no magic: a .msgpack name is checked as one.
            let claim = FormatClaims.claimed(by: path)
            if format == .unknown, claim == FormatClaims.extensions["msgpack"] { format = .msgpack }
            // Chat templates beside a model: tokenizer_config.json (or JSON with a chat_template), *.jinja.
            if format == .unknown, claim == nil, let report = TokenizerConfigInspector().scan(path: path, size: size, prefix: prefix) {
                return report
            }
            let name = try inspect(.file(path, size: size), format: format, prefix: prefix, location: nil, depth: 0,
                                   findings: &findings)
            // A name that claims a model format the content is not: malformed, never a silent "unsupported".
            if format == .unknown, let claim { findings.append(FormatClaims.mismatch(claim, size: size)) }
            return FileReport(path: path, format: name, findings: findings, unsupported: format == .unknown || format == .sevenZip)
        } catch let error as MLSecError {
            findings.append(Finding(.high, rule: "file-unreadable", message: error.message, class: .malformed))
            return FileReport(path: path, format: "unknown", findings: findings)
        } catch {
            findings.append(Finding(.high, rule: "file-unreadable", message: "\(error)", class: .malformed))
            return FileReport(path: path, format: "unknown", findings: findings)
        }
    }

    /// Scans an in-memory file (for example a decrypted model).
    public func scanBytes(_ bytes: [UInt8], name: String) -> FileReport {
        var findings: [Finding] = []
        let prefix = Array(bytes.prefix(FormatSniffer.prefixLength))
        var format = FormatSniffer.sniff(prefix: prefix, size: bytes.count, tail: Array(bytes.suffix(65_557)))
        if format == .unknown, PickleProbe.isPickle(bytes: bytes) { format = .pickle }
        do {
            let formatName = try inspect(.bytes(bytes), format: format, prefix: prefix, location: nil, depth: 0,
                                         findings: &findings)
            return FileReport(path: name, format: formatName, findings: findings, unsupported: format == .unknown)
        } catch {
            findings.append(Finding(.high, rule: "file-unreadable", message: "\(error)", class: .malformed))
            return FileReport(path: name, format: format.rawValue, findings: findings)
        }
    }

    // MARK: - Dispatch

    enum Source {
        case file(String, size: Int)
        case bytes([UInt8])

        func readAll(maxBytes: Int, what: String) throws -> [UInt8] {
            switch self {
            case .file(let path, _): return try ReadOnlyFile.readAll(path, maxBytes: maxBytes, what: what)
            case .bytes(let b):
                guard b.count <= maxBytes else { throw MLSecError.limitExceeded("\(what) is over \(maxBytes) bytes") }
                return b
            }
        }
    }

    /// Inspects content of a known format, appending findings; returns the format's name for the report.
    func inspect(_ source: Source, format: SniffedFormat, prefix: [UInt8], location: String?, depth: Int,
                 findings: inout [Finding]) throws -> String {
        guard depth <= options.maxDepth else {
            findings.append(Finding(.medium, rule: "scan-limit",
                                    message: "containers nested deeper than \(options.maxDepth) levels were not opened",
                                    location: location))
            return format.rawValue
        }
        switch format {
        case .pickle:
            return try PickleInspector(scanner: self).inspect(source, prefix: prefix, location: location, findings: &findings)
        case .zip:
            return try ZipInspector(scanner: self).inspect(source, location: location, depth: depth, findings: &findings)
        case .tar:
            return try TarInspector(scanner: self).inspect(source, location: location, depth: depth, findings: &findings)
        case .compressed:
            guard let kind = Decompressor.detect(prefix) else { return "compressed" }
            let input = try source.readAll(maxBytes: options.maxMemberBytes, what: "compressed stream")
            let output: [UInt8]
            do {
                output = try Decompressor.decompress(input, format: kind, maxOutput: options.maxMemberBytes)
            } catch let error as MLSecError {
                let isLimit = error.code == .limitExceeded
                findings.append(Finding(isLimit ? .medium : .high, rule: isLimit ? "scan-limit" : "compression-malformed",
                                        message: "\(kind.rawValue): \(error.message)", location: location,
                                        class: isLimit ? .unsafe : .malformed))
                return kind.rawValue
            }
            let inner = try nested(output, location: join(location, "\(kind.rawValue)-content"), depth: depth + 1,
                                   findings: &findings)
            return "\(kind.rawValue)+\(inner)"
        case .sevenZip:
            findings.append(Finding(.medium, rule: "archive-7z", message: "7z archives are detected but their members are not scanned",
                                    location: location, class: .informational))
            return "7z"
        case .numpy:
            try NumpyInspector(scanner: self).inspect(source, location: location, findings: &findings)
            return "numpy"
        case .safetensors:
            do {
                switch source {
                case .file(let path, _): _ = try SafetensorsFile(path: path)
                case .bytes(let b): _ = try SafetensorsFile(bytes: b)
                }
            } catch let error as MLSecError {
                findings.append(Finding(.high, rule: "safetensors-malformed", message: error.message, location: location,
                                        class: .malformed))
            }
            return "safetensors"
        case .gguf:
            try GGUFInspector().inspect(source, location: location, findings: &findings)
            return "gguf"
        case .hdf5:
            try HDF5Probe().inspect(source, location: location, findings: &findings)
            return "hdf5"
        case .onnx:
            try ONNXInspector().inspect(source, location: location, findings: &findings)
            return "onnx"
        case .msgpack:
            let bytes = try source.readAll(maxBytes: options.maxMemberBytes, what: "msgpack file")
            do {
                try bytes.withUnsafeBytes { try MsgpackReader.validate($0) }
            } catch let error as MLSecError {
                findings.append(Finding(.high, rule: "msgpack-malformed", message: error.message, location: location, class: .malformed))
            }
            return "msgpack"
        case .unknown:
            return "unknown"
        }
    }

    /// Sniffs and inspects nested content (an archive member or a decompressed stream).
    func nested(_ bytes: [UInt8], location: String, depth: Int, findings: inout [Finding]) throws -> String {
        let prefix = Array(bytes.prefix(FormatSniffer.prefixLength))
        var format = FormatSniffer.sniff(prefix: prefix, size: bytes.count, tail: Array(bytes.suffix(65_557)))
        if format == .unknown, PickleProbe.isPickle(bytes: bytes) { format = .pickle }
        return try inspect(.bytes(bytes), format: format, prefix: prefix, location: location, depth: depth, findings: &findings)
    }

    func join(_ a: String?, _ b: String) -> String { a.map { "\($0)/\(b)" } ?? b }

    func readPrefix(_ file: ReadOnlyFile, size: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: min(size, FormatSniffer.prefixLength))
        let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return Array(buffer.prefix(n))
    }

    func readTail(_ file: ReadOnlyFile, size: Int) throws -> [UInt8] {
        let length = min(size, 65_557)
        var buffer = [UInt8](repeating: 0, count: length)
        let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: Int64(size - length)) }
        return Array(buffer.prefix(n))
    }
}
