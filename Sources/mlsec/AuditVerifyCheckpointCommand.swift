// AuditVerifyCheckpointCommand: `mlsec audit verify-checkpoint`, a signed checkpoint and a log checked against it.

import ArgumentParser
import Foundation
import MLSecAudit
import MLSecCore

extension AuditCommand {
    struct VerifyCheckpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-checkpoint",
            abstract: "Verify a signed checkpoint and, with --log or --database, that the log still holds what it covers.",
            discussion: """
                With a log, nothing the log stores is trusted but its entries: one pass recomputes every leaf \
                hash and tree node from the entries' bytes and compares them with the stored tree (as `mlsec audit \
                verify` does), the root of the first M entries (M: the checkpoint's size) recomputed on the way \
                must be the checkpoint's root, and a consistency proof from M to the log's N entries must verify \
                between the two roots. The cost is that of `mlsec audit verify`: O(N), one read of every entry. \
                The output's "checked" lists what was established. Exit 0 verified, 1 a bad signature, an edited, \
                removed or rewritten entry, 2 unreadable input.

                Examples:
                  mlsec audit verify-checkpoint --checkpoint cp.txt --verifier-key a.vkey
                  mlsec audit verify-checkpoint --checkpoint cp.txt --verifier-key a.vkey \\
                    --log audit.db
                  mlsec audit verify-checkpoint --checkpoint cp.txt --verifier-key a.vkey \\
                    --database postgres://mlsec@db/mlsec --password-file db.pw
                """)
        @Option(help: "The signed checkpoint file.")
        var checkpoint: String
        @Option(name: .customLong("verifier-key"), help: "The verifier key (name+id+key), or a file holding it.")
        var verifierKey: String
        @Option(help: "An audit log (SQLite file) to check against the checkpoint.")
        var log: String?
        @Option(help: "An audit log in PostgreSQL to check against the checkpoint (postgres://...).")
        var database: String?
        @Option(name: .customLong("password-file"), help: "A file holding the PostgreSQL password.")
        var passwordFile: String?

        func run() async throws {
            let keyText = FileStatus.exists(verifierKey) ? try readTextFile(verifierKey, what: "verifier key") : verifierKey
            let verifier = try NoteVerifier(encoded: keyText)
            let note = try readTextFile(checkpoint, what: "checkpoint")
            let parsed = try Checkpoint.open(note, verifiers: [verifier])
            var members: [(String, JSONValue)] = [
                ("verified", .bool(true)), ("origin", .string(parsed.origin)), ("size", .int(Int(parsed.size))),
                ("root", .string(Hex.encode(parsed.root))),
            ]
            var checked = ["the checkpoint's signature by \(verifier.name)"]
            if log != nil || database != nil {
                var options = LogOption()
                options.log = log
                options.database = database
                options.passwordFile = passwordFile
                try options.validate()
                let result = try await options.open().verify(against: parsed) { done in
                    if Terminal.stderrIsTerminal { Terminal.note("verified \(done) entries") }
                }
                members += [("consistent", .bool(true)), ("log_size", .int(Int(result.logSize))),
                            ("log_root", .string(Hex.encode(result.logRoot)))]
                checked += Self.logChecks(result)
            }
            members.append(("checked", .strings(checked)))
            printJSON(.object(members))
        }

        /// What checking the log established, in words.
        static func logChecks(_ result: CheckpointLogVerification) -> [String] {
            let (m, n) = (result.checkpointSize, result.logSize)
            var checks = [
                "all \(n) entries: leaf hashes and stored tree nodes recomputed from the entries' bytes",
                "the root of the first \(m) entries, recomputed from them, is the checkpoint's root",
            ]
            if result.consistencyProofChecked { checks.append("the consistency proof from \(m) to \(n) entries verifies") }
            return checks
        }
    }
}
