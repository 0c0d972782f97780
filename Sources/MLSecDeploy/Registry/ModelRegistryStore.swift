// ModelRegistryStore: where registered model versions are kept: SQLite (GRDB) embedded, PostgreSQL for replicas.

import Foundation
import MLSecCore
import Synchronization

/// The registry's persistence. Records are whole JSON documents (``RegisteredVersion/json(includingBOM:)``)
/// beside the columns queries need; stage changes are compare-and-set, so two operators (or replicas) racing
/// to move a version cannot both win.
public protocol ModelRegistryStore: Sendable {
    /// Adds a new version. - Throws: `MLSecError.usage` when the name and version are registered already.
    func add(_ record: RegisteredVersion) async throws
    /// The version, or nil when it is not registered.
    func version(name: String, version: String) async throws -> RegisteredVersion?
    /// Every version of `name` (of every model when nil), oldest first.
    func versions(name: String?) async throws -> [RegisteredVersion]
    /// Replaces `record`'s stage fields if its stored stage is still `expected`; whether it did.
    func changeStage(_ record: RegisteredVersion, expected: ModelStage) async throws -> Bool
    /// Name and version of every revoked version (what running gateways poll each second).
    func revoked() async throws -> Set<RegistryKey>
}

/// A model name and version.
public struct RegistryKey: Sendable, Hashable {
    public var name: String
    public var version: String
    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// Registry records kept in memory (tests).
public final class InMemoryRegistryStore: ModelRegistryStore {
    private let records = Mutex<[RegistryKey: RegisteredVersion]>([:])

    public init() {}

    public func add(_ record: RegisteredVersion) async throws {
        let key = RegistryKey(name: record.name, version: record.version)
        let added = records.withLock { records -> Bool in
            guard records[key] == nil else { return false }
            records[key] = record
            return true
        }
        guard added else { throw ModelRegistry.alreadyRegistered(record) }
    }

    public func version(name: String, version: String) async throws -> RegisteredVersion? {
        records.withLock { $0[RegistryKey(name: name, version: version)] }
    }

    public func versions(name: String?) async throws -> [RegisteredVersion] {
        records.withLock { records in
            records.values.filter { name == nil || $0.name == name }.sorted(by: ModelRegistry.order)
        }
    }

    public func changeStage(_ record: RegisteredVersion, expected: ModelStage) async throws -> Bool {
        records.withLock { records in
            let key = RegistryKey(name: record.name, version: record.version)
            guard records[key]?.stage == expected else { return false }
            records[key] = record
            return true
        }
    }

    public func revoked() async throws -> Set<RegistryKey> {
        records.withLock { Set($0.values.filter { $0.stage == .revoked }.map { RegistryKey(name: $0.name, version: $0.version) }) }
    }
}
