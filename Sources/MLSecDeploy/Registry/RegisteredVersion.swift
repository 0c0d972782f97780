// RegisteredVersion: one version of a model in the registry: what was verified, scanned and measured, and its stage.

import Foundation
import MLSecCore

/// A model version's lifecycle stage. New versions enter `staging`; `revoked` is final.
public enum ModelStage: String, Sendable, CaseIterable, Codable {
    case staging, production, archived, revoked

    /// The stages a version in this stage may move to (MLflow's stages, plus a final `revoked`).
    public var successors: Set<ModelStage> {
        switch self {
        case .staging: [.production, .archived, .revoked]
        case .production: [.staging, .archived, .revoked]
        case .archived: [.staging, .revoked]
        case .revoked: []
        }
    }

    /// Parses a stage name; the error lists the valid ones.
    public init(parsing text: String) throws {
        guard let stage = ModelStage(rawValue: text.lowercased()) else {
            throw MLSecError.usage("unknown stage \"\(text.prefix(40))\": use one of staging, production, archived, revoked")
        }
        self = stage
    }
}

/// One registered model version. Everything but the stage (and its history) is fixed when the version is added:
/// the registry records what the model-loading pipeline found in the verified bytes, never what a user typed
/// about them (except the evaluation results, which say where they came from).
public struct RegisteredVersion: Sendable, Equatable {
    public var name: String
    public var version: String
    /// The model directory as registered (absolute path).
    public var path: String
    /// The signature bundle as registered (absolute path).
    public var signature: String
    /// The signed manifest's root digest, `sha256:<hex>` (what the gateway's receipts name).
    public var manifestDigest: String
    /// Who signed it: `key:sha256:<hex>` (the SHA-256 of the public key's DER SubjectPublicKeyInfo) or
    /// `certificate:<identity>` (the certificate's SAN and issuer, as `mlsec verify` prints them).
    public var signer: String
    /// The scanner's verdict on the weights (`clean`, `unsafe`, ...), and the SHA-256 of its JSON report.
    public var scanVerdict: String
    public var scanReportDigest: String
    /// Model files as signed: relative path to `sha256:<hex>`.
    public var files: [String: String]
    /// Which model files are age-encrypted at rest.
    public var encryptedFiles: [String]
    /// Evaluation results by metric name (`accuracy`, `robust_accuracy`, `epsilon`, ...).
    public var evaluations: [String: Double]
    /// Watermark status when the watermark module recorded one (`verified`, `absent`), else nil.
    public var watermark: String?
    /// Datasets it was trained or evaluated on: name to the MLSec data manifest's root digest.
    public var datasets: [String: String]
    /// The ML-BOM (CycloneDX JSON) built when the version was added, and its SHA-256.
    public var mlbom: [UInt8]
    public var stage: ModelStage
    public var createdAt: Date
    public var createdBy: String
    /// When the stage last changed, by whom and why.
    public var stageChangedAt: Date
    public var stageChangedBy: String
    public var stageReason: String

    public init(name: String, version: String, path: String, signature: String, manifestDigest: String, signer: String,
                scanVerdict: String, scanReportDigest: String, files: [String: String], encryptedFiles: [String],
                evaluations: [String: Double] = [:], watermark: String? = nil, datasets: [String: String] = [:], mlbom: [UInt8] = [],
                stage: ModelStage = .staging, createdAt: Date, createdBy: String) {
        self.name = name
        self.version = version
        self.path = path
        self.signature = signature
        self.manifestDigest = manifestDigest
        self.signer = signer
        self.scanVerdict = scanVerdict
        self.scanReportDigest = scanReportDigest
        self.files = files
        self.encryptedFiles = encryptedFiles
        self.evaluations = evaluations
        self.watermark = watermark
        self.datasets = datasets
        self.mlbom = mlbom
        self.stage = stage
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.stageChangedAt = createdAt
        self.stageChangedBy = createdBy
        self.stageReason = "registered"
    }
}
