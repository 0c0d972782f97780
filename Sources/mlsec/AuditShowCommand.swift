// AuditShowCommand: `mlsec audit show INDEX`, one entry in full with its leaf hash and inclusion proof.

import ArgumentParser
import Foundation
import MLSecAudit
import MLSecCore

extension AuditCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print one entry in full: its fields, its leaf hash, and its inclusion proof against the current root.",
            discussion: """
                The leaf hash is recomputed from the entry's bytes and checked against the log's current root \
                through the inclusion proof. Exit 0 when it leads there, 1 when it does not (the entry or the \
                stored tree was modified: `mlsec audit verify` names the first bad entry), 2 for an index not in \
                the log.

                Examples:
                  mlsec audit show --log audit.db 17
                  mlsec audit show --log audit.db 17 --format json
                  mlsec audit show --database postgres://mlsec@db/mlsec --password-file db.pw 17
                """)
        @OptionGroup var options: LogOption
        @Argument(help: "The entry's 0-based index (as `mlsec audit list` prints it).")
        var index: UInt64
        @Option(help: "Output: text or json.")
        var format: OutputFormat = .text

        func run() async throws {
            let store = try await options.open()
            let data = try await store.entry(at: index)
            let view = AuditEntryView(index: index, data: data)
            let leaf = MerkleHash.leaf(data)
            let (size, proof) = try await store.inclusionProof(index: index, size: nil)
            let (_, root) = try await store.root(size: size)
            var failure: String?
            do {
                try MerkleVerifier.verifyInclusion(index: index, size: size, leafHash: leaf, proof: proof, root: root)
            } catch {
                failure = error.message
            }
            let proofHex = proof.map { Hex.encode($0) }
            switch format {
            case .json:
                printJSON(.object(view.jsonMembers + [
                    ("leaf_hash", .string(Hex.encode(leaf))), ("log_size", .int(Int(size))), ("root", .string(Hex.encode(root))),
                    ("inclusion_proof", .strings(proofHex)), ("included", .bool(failure == nil)),
                ]))
            case .text:
                var out = "index: \(index)\n"
                for (name, value) in view.fields { out += "\(name): \(value)\n" }
                out += "leaf_hash: \(Hex.encode(leaf))\nlog_size: \(size)\nroot: \(Hex.encode(root))\n"
                out += "inclusion_proof: \(proof.count) hashes\n"
                for hash in proofHex { out += "  \(hash)\n" }
                out += failure == nil ? "included: yes (the entry's bytes lead to the root through the proof)\n" : "included: NO\n"
                FileHandle.standardOutput.write(Data(out.utf8))
            }
            if let failure {
                throw MLSecError.verificationFailed(
                    "entry \(index) does not lead to the log's root (\(failure)): the entry or the stored tree was modified; "
                        + "`mlsec audit verify` names the first bad entry")
            }
        }
    }
}
