// ServedVersions: which version of each configured model is served: the one its last deploy recorded, or the configured one.

import Foundation
import MLSecAccess
import MLSecCore
import MLSecDeploy

/// One configured model and the version chosen for it.
public struct ServedChoice: Sendable {
    /// The configured source (a template when its path has `{version}`).
    public var source: ModelSource
    /// The version to serve.
    public var version: String
    /// The recorded deploy this follows (nil: the configured version).
    public var deploy: ServedVersion?
    /// A recorded deploy that the configuration overrides: its version changed since that deploy was made.
    public var overridden: ServedVersion?

    public var name: String { source.name }

    /// The line logged at start, reload and refresh, e.g. `model digits: serving version 2 (recorded deploy
    /// by key:1a2b at 2026-12-07T04:11:42Z)`.
    public var summary: String {
        if let deploy {
            return "model \(name): serving version \(version) (recorded deploy by \(deploy.deployedBy) at \(RFC3339.format(deploy.deployedAt)))"
        }
        if let overridden {
            return "model \(name): serving the configured version \(version) (the configuration changed from version "
                + "\(overridden.configuredVersion) to \(version) after the deploy of version \(overridden.version) by "
                + "\(overridden.deployedBy) at \(RFC3339.format(overridden.deployedAt)))"
        }
        return "model \(name): serving the configured version \(version)"
    }
}

/// The rule that start, SIGHUP reload and the maintenance service's refresh share. A model whose configured
/// path has `{version}` serves the version its last deploy recorded, as long as the configuration still names
/// the version it named when the deploy was made; once the configuration names another version, the file
/// was edited after the deploy and the configured version is served. A recorded version that cannot be served
/// (files missing, signature or scan refused, files changed since the deploy) is an error: the gateway never
/// falls back to another version on its own.
public enum ServedVersions {
    /// The version to serve for each source, given the recorded deploys.
    public static func choose(_ sources: [ModelSource], records: [String: ServedVersion]) -> [ServedChoice] {
        sources.map { source in
            guard source.isVersioned, let record = records[source.name] else {
                return ServedChoice(source: source, version: source.version)
            }
            if record.configuredVersion == source.version {
                return ServedChoice(source: source, version: record.version, deploy: record)
            }
            return ServedChoice(source: source, version: source.version, overridden: record)
        }
    }

    /// Loads the chosen version with every check (signature, decryption in memory, scan). A recorded
    /// version must also have the digest its deploy recorded.
    /// - Throws: `MLSecError` naming the model, the recorded version and what to do, when a recorded deploy
    ///   cannot be served; the loader's error for a configured version.
    public static func load(_ choice: ServedChoice, loader: ModelLoader) async throws -> LoadedModel {
        guard let deploy = choice.deploy else {
            return try await LoadedModel.load(try choice.source.resolved(version: choice.version), loader: loader)
        }
        let model: LoadedModel
        do {
            model = try await LoadedModel.load(try choice.source.resolved(version: deploy.version), loader: loader)
        } catch {
            let underlying = error as? MLSecError
            throw MLSecError(underlying?.code ?? .io, "\(refusal(choice, deploy)) cannot be loaded: \(readable(error)); "
                + wayOut(choice, deploy))
        }
        guard model.digest == deploy.digest else {
            throw MLSecError.verificationFailed("\(refusal(choice, deploy)) now has digest \(model.digest), not the recorded "
                + "\(deploy.digest): its files changed after the deploy; deploy it again (PUT /admin/models/\(choice.name)) "
                + "to accept them, or " + wayOut(choice, deploy))
        }
        return model
    }

    /// Loads every choice; the first that cannot be served stops it all (nothing is half-applied).
    public static func loadAll(_ choices: [ServedChoice], loader: ModelLoader) async throws -> [String: LoadedModel] {
        var models: [String: LoadedModel] = [:]
        for choice in choices { models[choice.name] = try await load(choice, loader: loader) }
        return models
    }

    private static func refusal(_ choice: ServedChoice, _ deploy: ServedVersion) -> String {
        "model \(choice.name): the recorded deploy of version \(deploy.version) (by \(deploy.deployedBy) at "
            + RFC3339.format(deploy.deployedAt) + ")"
    }

    private static func wayOut(_ choice: ServedChoice, _ deploy: ServedVersion) -> String {
        "the gateway does not fall back to another version on its own: restore version \(deploy.version)'s files, "
            + "set another version for \(choice.name) in the configuration, or forget the deploy with "
            + "`mlsec deployments reset --config FILE \(choice.name)` to serve the configured version \(choice.source.version)"
    }
}
