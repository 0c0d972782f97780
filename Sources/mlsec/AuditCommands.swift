// AuditCommands: `mlsec audit ...`, the tamper-evident Merkle audit log on the command line.

import ArgumentParser
import Foundation
import Logging
import MLSecAudit
import MLSecCore
import MLSecStores

#if canImport(Glibc)
import Glibc
#endif

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Append to, prove and verify the tamper-evident audit log (RFC 6962 Merkle log in SQLite or PostgreSQL).",
        discussion: """
            Examples:
              mlsec audit append --log audit.db --json --print-index < events.jsonl
              mlsec audit root --log audit.db
              mlsec audit prove-inclusion --log audit.db --index 0
              mlsec audit prove-consistency --log audit.db --from 1 --to 2
              mlsec audit verify --log audit.db
              mlsec audit keygen --name example.com/audit --private-key audit-note.key \\
                --verifier-key audit.vkey
              mlsec audit checkpoint --log audit.db --private-key audit-note.key \\
                --origin example.com/audit > cp.txt
              mlsec audit verify-checkpoint --checkpoint cp.txt --verifier-key audit.vkey \\
                --log audit.db
              mlsec audit list --log audit.db --decision deny --limit 20
              mlsec audit show --log audit.db 0
              mlsec audit verify --database postgres://mlsec@db.internal/mlsec \\
                --password-file db.pw   # the replicas' shared log in PostgreSQL
            """,
        subcommands: [Append.self, Root.self, ProveInclusion.self, ProveConsistency.self, Verify.self, Keygen.self,
                      MakeCheckpoint.self, VerifyCheckpoint.self, List.self, Show.self]
    )

    struct LogOption: ParsableArguments {
        @Option(help: "The audit log (an SQLite file).")
        var log: String?
        @Option(help: "The audit log in PostgreSQL, as gateway replicas share it: postgres://user@host[:port]/database[?sslmode=...].")
        var database: String?
        @Option(name: .customLong("password-file"), help: "A file holding the PostgreSQL password (instead of the URL).")
        var passwordFile: String?

        func validate() throws {
            guard (log == nil) != (database == nil) else { throw ValidationError("give exactly one of --log FILE and --database URL") }
        }

        /// The store; an SQLite file must exist unless `create`.
        func open(create: Bool = false) async throws -> any AuditStore {
            if let log { return try SQLiteAuditStore(path: log, create: create) }
            var logger = Logger(label: "mlsec.postgres")
            logger.logLevel = .error
            let database = try PostgresDatabase(url: database ?? "", passwordFile: passwordFile, logger: logger)
            return try await PostgresAuditStore(database: database)
        }
    }

    static func hexList(_ hashes: [[UInt8]]) -> JSONValue { .array(hashes.map { .string(Hex.encode($0)) }) }

    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "append",
            abstract: "Append entries read from standard input, one per line.",
            discussion: """
                Lines are appended in batches (what is available on standard input at once, at most 10,000 lines), \
                each batch in one durable transaction; with --print-index each entry's 0-based index is printed \
                only after its batch is on disk. A bad line stops the command (exit 2) before its batch is written.

                With --json each line is one audit event, a JSON object of strings: time (RFC 3339), actor, \
                action, resource and decision (allow, deny or error), and optionally reason, request_id and the \
                digests request_digest, model_digest and receipt_digest (sha256:<64 hex digits>). For example, \
                written on one line in the input:
                  {"time": "2026-11-29T08:00:00Z", "actor": "alice", "action": "infer",
                   "resource": "models/digits", "decision": "allow"}
                With --hex each line is the hex encoding of a raw leaf's bytes.

                Examples:
                  mlsec audit append --log audit.db --json --print-index < events.jsonl
                  printf '00\\n1020\\n' | mlsec audit append --log raw.db --hex
                """)
        @OptionGroup var options: LogOption
        @Flag(help: "Lines are JSON audit events (validated against the schema, stored as canonical JSON).")
        var json = false
        @Flag(help: "Lines are hex-encoded raw leaf bytes.")
        var hex = false
        @Flag(name: .customLong("print-index"), help: "Print each entry's index once it is durable.")
        var printIndex = false

        static let maxBatch = 10_000

        func validate() throws {
            guard json != hex else { throw ValidationError("give exactly one of --json and --hex") }
        }

        func entry(_ line: ArraySlice<UInt8>, number: Int) throws -> [UInt8]? {
            var line = line
            if line.last == 0x0D { line.removeLast() }
            if json {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
                let value = try JSONParser(limits: .init(maxDepth: 4, maxStringBytes: 4096, maxContainerCount: 64))
                    .parse(Array(line), context: "line \(number)")
                do {
                    return try AuditEvent(json: value).canonicalBytes
                } catch let error as MLSecError {
                    throw MLSecError.malformed("line \(number): \(error.message)")
                }
            }
            guard let bytes = Hex.decode(String(decoding: line, as: UTF8.self)) else {
                throw MLSecError.malformed("line \(number) is not hex")
            }
            return bytes
        }

        func run() async throws {
            let log = try await options.open(create: true)
            let maxLine = 2 * AuditEntryLimits.maxEntryBytes + 2
            var buffer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            var lineNumber = 0
            var endOfInput = false
            while !endOfInput {
                let n = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw MLSecError.io("cannot read standard input: \(FileStatus.errnoText())")
                }
                if n == 0 {
                    endOfInput = true
                    if !buffer.isEmpty, buffer.last != 0x0A { buffer.append(0x0A) }
                } else {
                    buffer += chunk[..<n]
                }
                var batch: [[UInt8]] = []
                var start = 0
                while let newline = buffer[start...].firstIndex(of: 0x0A) {
                    lineNumber += 1
                    if let e = try entry(buffer[start..<newline], number: lineNumber) { batch.append(e) }
                    start = newline + 1
                    if batch.count == Self.maxBatch { try await commit(batch, to: log); batch = [] }
                }
                buffer.removeFirst(start)
                guard buffer.count <= maxLine else {
                    throw MLSecError.limitExceeded("line \(lineNumber + 1) is longer than \(maxLine) bytes")
                }
                try await commit(batch, to: log)
            }
        }

        func commit(_ batch: [[UInt8]], to log: any AuditStore) async throws {
            guard !batch.isEmpty else { return }
            let range = try await log.append(batch)
            if printIndex {
                var out = ""
                for index in range { out += "\(index)\n" }
                FileHandle.standardOutput.write(Data(out.utf8))
            }
        }
    }

    struct Root: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "root",
            abstract: "Print the root hash: {\"size\": n, \"root\": \"hex\"}.",
            discussion: """
                Examples:
                  mlsec audit root --log audit.db
                  mlsec audit root --log audit.db --size 1000
                """)
        @OptionGroup var options: LogOption
        @Option(help: "The tree size (default: the whole log).")
        var size: UInt64?

        func run() async throws {
            let (size, root) = try await options.open().root(size: size)
            printJSON(.object([("size", .int(Int(size))), ("root", .string(Hex.encode(root)))]))
        }
    }

    struct ProveInclusion: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prove-inclusion", abstract: "Print the inclusion proof of an entry.",
            discussion: """
                Prints {"index": i, "size": n, "proof": ["hex", ...]}: the RFC 6962 audit path from the entry's \
                leaf to the root of the first n entries.

                Examples:
                  mlsec audit prove-inclusion --log audit.db --index 17
                  mlsec audit prove-inclusion --log audit.db --index 17 --size 1000
                """)
        @OptionGroup var options: LogOption
        @Option(help: "The entry's 0-based index.")
        var index: UInt64
        @Option(help: "The tree size (default: the whole log).")
        var size: UInt64?

        func run() async throws {
            let (size, proof) = try await options.open().inclusionProof(index: index, size: size)
            printJSON(.object([("index", .int(Int(index))), ("size", .int(Int(size))), ("proof", hexList(proof))]))
        }
    }

    struct ProveConsistency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prove-consistency", abstract: "Print the consistency proof between two tree sizes.",
            discussion: """
                Prints {"from": m, "to": n, "proof": ["hex", ...]}: the RFC 6962 proof that the first m entries \
                are unchanged in the tree of the first n.

                Examples:
                  mlsec audit prove-consistency --log audit.db --from 1000 --to 2000
                """)
        @OptionGroup var options: LogOption
        @Option(help: "The older size (> 0).")
        var from: UInt64
        @Option(help: "The newer size.")
        var to: UInt64

        func run() async throws {
            let proof = try await options.open().consistencyProof(from: from, to: to)
            printJSON(.object([("from", .int(Int(from))), ("to", .int(Int(to))), ("proof", hexList(proof))]))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Recompute every hash from the entries (exit 0 intact, 1 tampered, naming the first bad entry).",
            discussion: """
                Examples:
                  mlsec audit verify --log audit.db
                  mlsec audit verify --database postgres://mlsec@db/mlsec --password-file db.pw
                """)
        @OptionGroup var options: LogOption

        func run() async throws {
            let report = try await options.open().verify { done in
                if Terminal.stderrIsTerminal { Terminal.note("verified \(done) entries") }
            }
            printJSON(.object([("verified", .bool(true)), ("size", .int(Int(report.size))),
                               ("root", .string(Hex.encode(report.root)))]))
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Create an Ed25519 checkpoint signing key (C2SP signed-note format); prints its verifier key.",
            discussion: """
                Examples:
                  mlsec audit keygen --name example.com/audit --private-key audit-note.key \\
                    --verifier-key audit.vkey
                  mlsec audit keygen --name example.com/audit --private-key audit-note.key \\
                    > audit.vkey
                """)
        @Option(help: "The key name, usually the log's origin (no spaces or '+').")
        var name: String
        @Option(name: .customLong("private-key"), help: "Where to write the signer key (mode 0600).")
        var privateKey: String
        @Option(name: .customLong("verifier-key"), help: "Also write the verifier key to this file.")
        var verifierKey: String?

        func run() async throws {
            let signer = try NoteSigner.generate(name: name)
            try AtomicFile.write(signer.encoded + "\n", to: privateKey, mode: 0o600, overwrite: false)
            if let verifierKey {
                try AtomicFile.write(signer.verifier.encoded + "\n", to: verifierKey, mode: 0o644, overwrite: false)
            }
            print(signer.verifier.encoded)
        }
    }

    struct MakeCheckpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint", abstract: "Print a signed checkpoint (C2SP tlog-checkpoint) of the log.",
            discussion: """
                Examples:
                  mlsec audit checkpoint --log audit.db --private-key audit-note.key \\
                    --origin example.com/audit > cp.txt
                  mlsec audit checkpoint --database postgres://mlsec@db/mlsec \\
                    --password-file db.pw --private-key audit-note.key \\
                    --origin example.com/audit > cp.txt
                """)
        @OptionGroup var options: LogOption
        @Option(name: .customLong("private-key"), help: "The signer key file (from `mlsec audit keygen`).")
        var privateKey: String
        @Option(help: "The log's origin line, e.g. example.com/audit.")
        var origin: String

        func run() async throws {
            let signer = try NoteSigner(encoded: try readTextFile(privateKey, what: "signer key"))
            guard !origin.isEmpty, !origin.contains("\n") else { throw MLSecError.usage("--origin must be one non-empty line") }
            print(try await options.open().checkpoint(origin: origin, signer: signer), terminator: "")
        }
    }
}
