// ModelRegistry: registers verified model versions and moves them through their stages, each change audited.

import Crypto
import Foundation
import MLSecAudit
import MLSecCore
import MLSecScan

/// The model registry: versions enter through the loading pipeline (signature verified, files hashed, weights
/// scanned, model built), so a record states what was found in the bytes, and every change is an audit-log
/// entry written before the change is made (a change the log cannot take is not made).
public struct ModelRegistry: Sendable {
    public let store: any ModelRegistryStore
    /// Where each change is recorded; nil only in tests.
    public let audit: (any AuditStore)?
    public let loader: ModelLoader
    let now: @Sendable () -> Date

    public init(store: any ModelRegistryStore, audit: (any AuditStore)?, loader: ModelLoader = ModelLoader(),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.audit = audit
        self.loader = loader
        self.now = now
    }

    /// What a registration records besides what the pipeline finds.
    public struct Facts: Sendable {
        public var evaluations: [String: Double] = [:]
        public var watermark: String?
        public var datasets: [String: String] = [:]
        public init(evaluations: [String: Double] = [:], watermark: String? = nil, datasets: [String: String] = [:]) {
            self.evaluations = evaluations
            self.watermark = watermark
            self.datasets = datasets
        }
    }

    /// Loads `location` through the pipeline and registers it in `staging`.
    /// - Parameter bom: builds the ML-BOM of the record (nil: none).
    /// - Throws: the pipeline's errors (an unverified or unsafe model is never registered), `usage` when the
    ///   version exists, and the audit log's or store's errors.
    public func register(_ location: ModelLocation, facts: Facts, by actor: String,
                         bom: (@Sendable (RegisteredVersion) throws -> [UInt8])? = nil) async throws -> RegisteredVersion {
        if try await store.version(name: location.name, version: location.version) != nil {
            throw Self.alreadyRegistered(name: location.name, version: location.version)
        }
        var unjudged = loader
        unjudged.admission = nil
        let verified = try await unjudged.load(location)
        let report = JSONWriter.canonical(ReportWriter.json(ScanReport(files: [verified.scanReport])))
        var record = RegisteredVersion(
            name: location.name, version: location.version, path: FilePath.absolute(location.path),
            signature: FilePath.absolute(location.signature), manifestDigest: verified.digest, signer: verified.signer.summary,
            scanVerdict: verified.scanReport.verdict.rawValue, scanReportDigest: "sha256:" + Hex.encode(Array(SHA256.hash(data: report))),
            files: ModelLoader.fileDigests(verified.manifest), encryptedFiles: verified.encryptedFiles, evaluations: facts.evaluations,
            watermark: facts.watermark, datasets: facts.datasets, createdAt: now(), createdBy: actor)
        if let bom { record.mlbom = try bom(record) }
        try await recordAudit(actor: actor, action: "registry.add", record: record,
                              reason: "registered in staging: signer \(record.signer), scan \(record.scanVerdict)")
        do {
            try await store.add(record)
        } catch {
            // The entry above said it was registered: say it was not.
            try? await recordAudit(actor: actor, action: "registry.add", record: record, decision: .error,
                                   reason: "not registered: \(readable(error, limit: 200))")
            throw error
        }
        return record
    }

    /// Moves a version to `stage` (``ModelStage/successors`` says which moves are allowed).
    /// - Throws: `usage` for an unknown version or an illegal move, `io` when another change came first.
    @discardableResult
    public func changeStage(name: String, version: String, to stage: ModelStage, by actor: String, reason: String) async throws -> RegisteredVersion {
        guard var record = try await store.version(name: name, version: version) else {
            throw MLSecError.usage("model \(name) version \(version) is not registered (mlsec registry list \(name))")
        }
        let from = record.stage
        guard from.successors.contains(stage) else {
            let allowed = from.successors.map(\.rawValue).sorted()
            throw MLSecError.usage("model \(name) version \(version) is \(from.rawValue) and cannot move to \(stage.rawValue)"
                + (allowed.isEmpty ? " (revoked is final: register a new version)" : " (from \(from.rawValue): \(allowed.joined(separator: ", ")))"))
        }
        record.stage = stage
        record.stageChangedAt = now()
        record.stageChangedBy = actor
        record.stageReason = reason
        let action = switch stage {
        case .production: "registry.promote"
        case .revoked: "registry.revoke"
        case .archived: "registry.archive"
        case .staging: "registry.stage"
        }
        try await recordAudit(actor: actor, action: action, record: record, reason: "\(from.rawValue) -> \(stage.rawValue): \(reason)")
        let changed: Bool
        do {
            changed = try await store.changeStage(record, expected: from)
        } catch {
            try? await recordAudit(actor: actor, action: action, record: record, decision: .error,
                                   reason: "not changed: \(readable(error, limit: 200))")
            throw error
        }
        guard changed else {
            try? await recordAudit(actor: actor, action: action, record: record, decision: .error,
                                   reason: "not changed: another change came first")
            throw MLSecError.io("model \(name) version \(version) changed while this change was made; look at it again (mlsec registry show)")
        }
        return record
    }

    func recordAudit(actor: String, action: String, record: RegisteredVersion, decision: AuditEvent.Decision = .allow,
                     reason: String) async throws {
        guard let audit else { return }
        let event = AuditEvent(actor: actor, action: action, resource: "models/\(record.name)/versions/\(record.version)",
                               decision: decision, reason: reason, modelDigest: record.manifestDigest)
        do {
            _ = try await audit.append([event.canonicalBytes])
        } catch {
            throw MLSecError.io("the audit log cannot take the registry change (\(readable(error, limit: 300))); nothing was changed")
        }
    }

    static func alreadyRegistered(_ record: RegisteredVersion) -> MLSecError {
        alreadyRegistered(name: record.name, version: record.version)
    }

    static func alreadyRegistered(name: String, version: String) -> MLSecError {
        MLSecError.usage("model \(name) version \(version) is registered already; versions are immutable: register the new files "
            + "under a new version")
    }

    /// Registry order: by name, then by version (``ModelLocation/compareVersions``).
    package static func order(_ a: RegisteredVersion, _ b: RegisteredVersion) -> Bool {
        if a.name != b.name { return a.name < b.name }
        return ModelLocation.compareVersions(a.version, b.version) < 0
    }

    /// A stored record: its JSON document, which must agree with the row's name, version and stage columns.
    package static func decode(document: [UInt8], stage: String?, name: String, version: String, context: String) throws -> RegisteredVersion {
        let value: JSONValue
        do {
            value = try JSONParser().parse(document, context: context)
        } catch {
            throw MLSecError.malformed("\(context): the record is not valid JSON; the version is refused until it is registered again")
        }
        let record = try RegisteredVersion(json: value, context: context)
        guard record.name == name, record.version == version, record.stage.rawValue == stage else {
            throw MLSecError.malformed("\(context): the record disagrees with its row (edited by hand?); the version is refused")
        }
        return record
    }
}
