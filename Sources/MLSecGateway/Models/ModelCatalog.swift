// ModelCatalog: the models being served and their configured sources, swapped atomically on deploy and reload.

import Synchronization

/// The models being served and the configured sources they come from. Deploys and reloads swap entries
/// atomically: a request sees the old model or the new one, never a mix, and in-flight requests finish on
/// the model they started with.
public final class ModelCatalog: Sendable {
    private struct State {
        var models: [String: LoadedModel]
        var sources: [String: ModelSource]
    }
    private let state: Mutex<State>

    public init(models: [String: LoadedModel], sources: [ModelSource] = []) {
        state = Mutex(State(models: models, sources: Dictionary(sources.map { ($0.name, $0) }, uniquingKeysWith: { $1 })))
    }

    /// The model served under `name`.
    public subscript(name: String) -> LoadedModel? { state.withLock { $0.models[name] } }

    /// Every served model, by name.
    public var all: [LoadedModel] { state.withLock { $0.models.values.sorted { $0.name < $1.name } } }

    /// The configured source (a template when versioned) for `name`.
    public func source(named name: String) -> ModelSource? { state.withLock { $0.sources[name] } }

    /// Every configured source, by name.
    public var sources: [ModelSource] { state.withLock { $0.sources.values.sorted { $0.name < $1.name } } }

    /// Serves `model` in place of `expected` (compared by version and digest; nil: none served) and returns
    /// true, or changes nothing and returns false when something else is served by now (a deploy or reload
    /// that came first wins over a refresh that loaded a model meanwhile).
    public func install(_ model: LoadedModel, replacing expected: LoadedModel?) -> Bool {
        let outcome = state.withLock { state -> (Bool, LoadedModel?) in
            let current = state.models[model.name]
            guard current?.version == expected?.version, current?.digest == expected?.digest else { return (false, nil) }
            state.models[model.name] = model
            return (true, current)
        }
        if let pool = outcome.1?.upstream, pool !== model.upstream { pool.stop() }
        return outcome.0
    }

    /// Serves `model` under its name from now on (a replaced upstream pool stops its health checks).
    public func install(_ model: LoadedModel) {
        let previous = state.withLock { $0.models.updateValue(model, forKey: model.name) }
        if let pool = previous?.upstream, pool !== model.upstream { pool.stop() }
    }

    /// Stops serving `expected` (compared by version and digest) and returns true, or changes nothing and returns
    /// false when something else is served by now.
    public func remove(_ expected: LoadedModel) -> Bool {
        let removed = state.withLock { state -> LoadedModel? in
            guard let current = state.models[expected.name], current.version == expected.version, current.digest == expected.digest
            else { return nil }
            return state.models.removeValue(forKey: expected.name)
        }
        removed?.upstream?.stop()
        return removed != nil
    }

    /// Replaces everything (configuration reload): the new models and sources, all at once.
    public func replaceAll(models: [String: LoadedModel], sources: [ModelSource]) {
        let previous = state.withLock { state -> [LoadedModel] in
            let previous = Array(state.models.values)
            state = State(models: models, sources: Dictionary(sources.map { ($0.name, $0) }, uniquingKeysWith: { $1 }))
            return previous
        }
        for model in previous { model.upstream?.stop() }
    }
}
