// PostgresRoleStore: the custom roles in PostgreSQL, one policy for every replica.

import Foundation
import MLSecAccess
import MLSecCore
import PostgresNIO

/// `mlsec_roles(name, permissions)`: the custom roles every replica enforces. A replica publishes its
/// configuration's custom roles when it starts and on SIGHUP (replacing the whole set in one transaction:
/// the configuration published last defines the roles), and reads them back every second, so that all
/// replicas enforce one role policy whichever of them read a changed file.
public final class PostgresRoleStore: RoleStore {
    let database: PostgresDatabase

    static let schema: [PostgresQuery] = [
        "CREATE TABLE IF NOT EXISTS mlsec_roles (name TEXT PRIMARY KEY, permissions TEXT[] NOT NULL)",
    ]

    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate(Self.schema)
    }

    /// Makes `roles`' custom roles (built-in ones are skipped) the published set.
    public func publish(_ roles: [String: Role]) async throws {
        let custom = roles.filter { Role.builtIn[$0.key] == nil }.sorted { $0.key < $1.key }
        let names = custom.map(\.key)
        // One text per role: its permissions joined by commas (permission names have no commas).
        let permissions = custom.map { $0.value.permissions.map(\.rawValue).sorted().joined(separator: ",") }
        let database = self.database
        try await database.withDeadline {
            try await database.client.withTransaction(logger: database.logger) { connection in
                try await connection.query("DELETE FROM mlsec_roles", logger: database.logger)
                try await connection.query("""
                    INSERT INTO mlsec_roles (name, permissions)
                    SELECT n, string_to_array(p, ',') FROM unnest(\(names)::text[], \(permissions)::text[]) AS t(n, p)
                    """, logger: database.logger)
            }
        }
    }

    /// The published custom roles. A permission this version does not know is dropped (deny by default).
    public func load() async throws -> [String: Role] {
        let client = database.client
        return try await database.withDeadline {
            var roles: [String: Role] = [:]
            for try await (name, permissions) in try await client.query("SELECT name, permissions FROM mlsec_roles").decode((String, [String]).self) {
                guard Role.builtIn[name] == nil else { continue }
                roles[name] = Role(name: name, permissions: Set(permissions.compactMap(Permission.init(rawValue:))))
            }
            return roles
        }
    }
}
