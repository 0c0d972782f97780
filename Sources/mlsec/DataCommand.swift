// DataCommand: `mlsec data sign|verify|prove|verify-proof`: signed dataset manifests, record by record.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecData
import MLSecIntegrity

enum TextOrJSON: String, ExpressibleByArgument, CaseIterable { case text, json }

/// Reads a dataset manifest (a Sigstore bundle).
func readDatasetBundle(_ path: String) throws -> SignatureBundle {
    try SignatureBundle(fileBytes: try ReadOnlyFile.readAll(path, maxBytes: SignatureBundle.maxFileBytes, what: "dataset manifest"))
}

struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Sign, verify and prove datasets record by record.",
        discussion: """
            Examples:
              mlsec data sign train.csv --private-key signing.pem --out train.manifest
              mlsec data verify train.csv --manifest train.manifest \\
                  --public-key signing.pub
              mlsec data prove train.csv --manifest train.manifest \\
                  --record 41 > record-41.proof
              mlsec data verify-proof --manifest train.manifest \\
                  --public-key signing.pub --proof record-41.proof
            """,
        subcommands: [Sign.self, Verify.self, Prove.self, VerifyProof.self, Profile.self, Validate.self, Screen.self])

    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Sign a dataset: a Merkle tree over its records, in a Sigstore bundle (DSSE, in-toto).",
            discussion: """
                DATA is a file or a directory (walked in path order; symbolic links refused). CSV files are cut \
                into rows after the header (quoted newlines stay inside their row), JSON Lines files into lines, \
                other files into --chunk-size chunks. The manifest holds every record's hash, so verify can name \
                changed, added and removed records, and prove can show one record was in the dataset.
                Example:
                  mlsec data sign train.csv --private-key signing.pem --out train.manifest
                """)

        @Argument(help: "The dataset: a file or a directory.") var data: String
        @Option(name: .customLong("private-key"), help: "PEM private key (EC P-256/P-384/P-521, or ed25519).") var privateKey: String
        @Option(help: "Where to write the manifest.") var out: String
        @Option(name: .customLong("chunk-size"), help: "Record size for binary files, in bytes.") var chunkSize = 1 << 20
        @Flag(help: "Overwrite --out.") var force = false

        func run() async throws {
            if !force, FileStatus.exists(out) { throw MLSecError(.alreadyExists, "\(out) exists; pass --force to overwrite it") }
            let key = try ModelSigningKey(pem: try readTextFile(privateKey, what: "private key"))
            let (bundle, manifest) = try DatasetSignature.sign(path: data, key: key, chunkSize: chunkSize)
            try AtomicFile.write(bundle.fileBytes, to: out, overwrite: true)
            printJSON(.object([
                ("out", .string(out)), ("records", .int(manifest.recordCount)), ("files", .int(manifest.files.count)),
                ("merkle_root", .string("sha256:" + Hex.encode(manifest.root))),
            ]))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a dataset against its signed manifest: exit 0 verified, 1 changed (naming the records), 2 error.",
            discussion: """
                Record numbers are 0-based, header rows excluded, counted across files in path order: \
                changed_records and removed_records number the signed dataset, added_records the data now.
                Example:
                  mlsec data verify train.csv --manifest train.manifest \\
                      --public-key signing.pub --format json
                """)

        @Argument(help: "The dataset: a file or a directory.") var data: String
        @Option(help: "The manifest from `mlsec data sign`.") var manifest: String
        @Option(name: .customLong("public-key"), help: "The signer's PEM public key.") var publicKey: String
        @Option(help: "text or json.") var format: TextOrJSON = .text

        func run() async throws {
            let trust = ModelTrust.publicKey(try ModelVerifyingKey(pem: try readTextFile(publicKey, what: "public key")))
            let result = try await DatasetSignature.verify(path: data, bundle: try readDatasetBundle(manifest), trust: trust, context: manifest)
            let r = result.records
            switch format {
            case .json:
                printJSON(.object([
                    ("verified", .bool(result.isVerified)), ("records", .int(result.current.recordCount)),
                    ("signed_records", .int(result.signed.recordCount)),
                    ("changed_records", .array(r.changed.map { .int($0) })), ("added_records", .array(r.added.map { .int($0) })),
                    ("removed_records", .array(r.removed.map { .int($0) })),
                    ("added_files", .array(result.addedFiles.map { .string($0) })),
                    ("removed_files", .array(result.removedFiles.map { .string($0) })),
                    ("changed_headers", .array(result.changedHeaders.map { .string($0) })),
                ]))
            case .text:
                if result.isVerified {
                    print("verified: \(result.current.recordCount) records match the signed manifest")
                } else {
                    func list(_ values: [Int]) -> String { values.prefix(20).map(String.init).joined(separator: ", ") + (values.count > 20 ? ", …" : "") }
                    if !r.changed.isEmpty { print("changed records (\(r.changed.count)): \(list(r.changed))") }
                    if !r.added.isEmpty { print("added records (\(r.added.count)): \(list(r.added))") }
                    if !r.removed.isEmpty { print("removed records (\(r.removed.count)): \(list(r.removed))") }
                    for f in result.addedFiles { print("added file: \(f)") }
                    for f in result.removedFiles { print("removed file: \(f)") }
                    for f in result.changedHeaders { print("changed CSV header: \(f)") }
                }
            }
            if !result.isVerified { throw ExitCode(1) }
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prove",
            abstract: "Print an inclusion proof that one record was in the signed dataset.",
            discussion: """
                Example:
                  mlsec data prove train.csv --manifest train.manifest \\
                      --record 41 > record-41.proof
                """)

        @Argument(help: "The dataset (it must still hold the record unchanged).") var data: String
        @Option(help: "The manifest from `mlsec data sign`.") var manifest: String
        @Option(help: "The record, 0-based, header rows excluded.") var record: Int

        func run() async throws {
            let bundle = try readDatasetBundle(manifest)
            let signed = try DatasetManifest(statement: try bundle.statement(), context: manifest)
            let proof = try DatasetSignature.prove(record: record, path: data, signed: signed)
            printJSON(proof.json)
        }
    }

    struct VerifyProof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-proof",
            abstract: "Check a record's inclusion proof against a signed manifest: exit 0 included, 1 not.",
            discussion: """
                Example:
                  mlsec data verify-proof --manifest train.manifest \\
                      --public-key signing.pub --proof record-41.proof
                """)

        @Option(help: "The manifest from `mlsec data sign`.") var manifest: String
        @Option(name: .customLong("public-key"), help: "The signer's PEM public key.") var publicKey: String
        @Option(help: "The proof from `mlsec data prove`.") var proof: String

        func run() async throws {
            let trust = ModelTrust.publicKey(try ModelVerifyingKey(pem: try readTextFile(publicKey, what: "public key")))
            let signed = try await DatasetSignature.authenticate(try readDatasetBundle(manifest), trust: trust, context: manifest)
            let recordProof = try RecordProof(bytes: try ReadOnlyFile.readAll(proof, maxBytes: 80 << 20, what: "proof"), context: proof)
            try DatasetSignature.check(recordProof, signed: signed)
            var fields: [(String, JSONValue)] = [("included", .bool(true)), ("record", .int(recordProof.record)),
                                                 ("merkle_root", .string("sha256:" + Hex.encode(signed.root)))]
            if let bytes = recordProof.recordBytes, let text = String(validating: bytes, as: UTF8.self) {
                fields.append(("record_text", .string(text)))
            }
            printJSON(.object(fields))
        }
    }
}
