// RoleBook: the roles in force, shared by every request and replaced live when they come from PostgreSQL.

import Synchronization

/// The built-in roles and the custom ones. With a database, the custom roles are the ones every replica
/// reads from PostgreSQL (``PostgresRoleStore``), so a change published by one replica is enforced by all
/// within about a second; the built-in roles never change.
public final class RoleBook: Sendable {
    private let roles: Mutex<[String: Role]>

    /// `roles` may include the built-in ones; they are always present whatever it says.
    public init(_ roles: [String: Role]) {
        self.roles = Mutex(roles.merging(Role.builtIn) { _, builtIn in builtIn })
    }

    public subscript(name: String) -> Role? { roles.withLock { $0[name] } }

    /// Every role now.
    public var all: [String: Role] { roles.withLock { $0 } }

    /// The custom roles (not built in).
    public var custom: [String: Role] { roles.withLock { $0.filter { Role.builtIn[$0.key] == nil } } }

    /// Replaces the custom roles.
    public func replaceCustom(_ custom: [String: Role]) {
        let merged = custom.filter { Role.builtIn[$0.key] == nil }.merging(Role.builtIn) { _, builtIn in builtIn }
        roles.withLock { $0 = merged }
    }
}

/// Where custom roles are shared between replicas (PostgreSQL): each replica publishes its configuration's
/// custom roles and reads back the published set.
public protocol RoleStore: Sendable {
    /// Makes `roles`' custom roles (built-in ones are skipped) the published set.
    func publish(_ roles: [String: Role]) async throws
    /// The published custom roles.
    func load() async throws -> [String: Role]
}
