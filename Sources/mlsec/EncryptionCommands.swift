// EncryptionCommands: `mlsec encrypt`, `mlsec decrypt` and `mlsec keys`, over the age format and the keyring.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEncryption

#if canImport(Glibc)
import Glibc
#endif

/// Where the keyring lives unless `--keyring` says otherwise.
func defaultKeyringDirectory() -> String {
    if let env = ProcessInfo.processInfo.environment["MLSEC_KEYRING"], !env.isEmpty { return env }
    return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.mlsec/keyring"
}

struct EncryptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt a file in the age format (interoperates with age, rage and pyrage).",
        discussion: """
            Reads IN (or standard input) and writes the age file to -o OUT (or standard output). The output \
            file appears only when encryption completed. Chunks are encrypted on every core with bounded memory.

            Examples:
              mlsec encrypt -r age1... -o model.safetensors.age model.safetensors
              mlsec encrypt -R recipients.txt -a < weights.bin > weights.age
              mlsec encrypt --passphrase-file pass.txt -o data.age data.csv
              mlsec encrypt --key models -o m.age model.safetensors   # default keyring
              mlsec encrypt --keyring ./ring --key models -o m.age model.safetensors
            """
    )

    @Option(name: .customShort("r"), help: "Encrypt to this recipient (age1...); repeatable.")
    var recipient: [String] = []

    @Option(name: .customShort("R"), help: "Encrypt to the recipients listed in this file; repeatable.")
    var recipientsFile: [String] = []

    @Option(name: .customLong("passphrase-file"), help: "Encrypt with the passphrase on the first line of this file.")
    var passphraseFile: String?

    @Option(name: .customLong("work-factor"), help: "scrypt work factor (log2 N) for --passphrase-file.")
    var workFactor = 18

    @Option(help: "Keyring directory, with --key.")
    var keyring: String?

    @Option(help: "Encrypt to the active version of this keyring key.")
    var key: String?

    @Flag(name: [.customShort("a"), .customLong("armor")], help: "Write PEM-style ASCII armor.")
    var armor = false

    @Option(name: .customShort("o"), help: "Output file (default: standard output).")
    var output: String?

    @Argument(help: "Input file (default: standard input).")
    var input: String?

    func run() async throws {
        var recipients: [any AgeRecipient] = try recipient.map { try AgeX25519Recipient($0) }
        for file in recipientsFile { recipients += try AgeKeyFiles.readRecipients(file) }
        if let key {
            let ring = try Keyring(directory: keyring ?? defaultKeyringDirectory())
            recipients.append(try ring.recipient(for: key))
        } else if keyring != nil {
            throw MLSecError.usage("--keyring needs --key NAME to choose the key to encrypt to")
        }
        if let passphraseFile {
            guard recipients.isEmpty else {
                throw MLSecError.usage("--passphrase-file cannot be combined with other recipients")
            }
            recipients = [try AgeScryptRecipient(passphrase: AgeKeyFiles.readPassphrase(passphraseFile), workFactor: workFactor)]
        }
        guard !recipients.isEmpty else {
            throw MLSecError.usage("give at least one recipient: -r, -R, --passphrase-file or --keyring with --key")
        }
        if output == nil || output == "-", !armor, isatty(STDOUT_FILENO) == 1 {
            throw MLSecError.usage("refusing to write binary ciphertext to a terminal; use -o FILE or -a")
        }
        try Age.encryptFile(at: input, to: output, recipients: recipients, armor: armor)
    }
}

struct DecryptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt an age file (binary or armored).",
        discussion: """
            With -o, the plaintext goes to a temporary file (mode 0600) that is renamed to OUT only after the \
            whole file authenticated; on any failure nothing is written. On standard output each 64 KiB chunk is \
            written once it authenticated; a failure exits 1 and what was written must be discarded.
            Exit codes: 0 decrypted, 1 decryption or authentication failure, 2 usage or I/O error.

            Without -i or --passphrase-file, the keys of the default keyring ($MLSEC_KEYRING or \
            ~/.mlsec/keyring) are tried, as `mlsec encrypt --key` uses it.

            Examples:
              mlsec decrypt -i model.key -o model.safetensors model.safetensors.age
              mlsec decrypt --passphrase-file pass.txt data.age > data.csv
              mlsec decrypt -o m.safetensors m.age          # the default keyring
              mlsec decrypt --keyring ./ring --key models -o m.safetensors m.age
            """
    )

    @Option(name: .customShort("i"), help: "Identity file (age-keygen format); repeatable.")
    var identity: [String] = []

    @Option(name: .customLong("passphrase-file"), help: "Decrypt with the passphrase on the first line of this file.")
    var passphraseFile: String?

    @Option(help: "Keyring directory whose non-retired keys are tried (default: $MLSEC_KEYRING or ~/.mlsec/keyring).")
    var keyring: String?

    @Option(help: "Try only the versions of this keyring key.")
    var key: String?

    @Option(name: .customShort("o"), help: "Output file (default: standard output).")
    var output: String?

    @Argument(help: "Input file (default: standard input).")
    var input: String?

    func run() async throws {
        var identities: [any AgeIdentity] = []
        for file in identity { identities += try AgeKeyFiles.readIdentities(file) as [any AgeIdentity] }
        if let passphraseFile { identities.append(AgeScryptIdentity(passphrase: try AgeKeyFiles.readPassphrase(passphraseFile))) }
        // The keyring: the one named, the default one when a key is named, or the default one when no other
        // identity was given and it exists (as `encrypt --key` uses it).
        let directory = keyring ?? defaultKeyringDirectory()
        if keyring != nil || key != nil || (identities.isEmpty && FileStatus.exists("\(directory)/keyring.json")) {
            let ring = try Keyring(directory: directory)
            let versions = try ring.identities(for: key)
            if let key, versions.isEmpty {
                throw MLSecError.usage("the keyring \(directory) has no key named \(key) that can still decrypt; see `mlsec keys list`")
            }
            identities += versions as [any AgeIdentity]
        }
        guard !identities.isEmpty else {
            throw MLSecError.usage(
                "give an identity: -i FILE, --passphrase-file FILE or --keyring DIR "
                    + "(there is no keyring at \(directory) to use by default)")
        }
        try Age.decryptFile(at: input, to: output, identities: identities)
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the encryption keyring: named keys, rotation and retirement.",
        discussion: """
            The keyring is a directory (default $MLSEC_KEYRING or ~/.mlsec/keyring): keyring.json holds ids, \
            names, recipients, creation times and status; each secret is an age identity file with mode 0600.

            Examples:
              mlsec keys create models
              mlsec keys rotate models --rewrap ./encrypted-models
              mlsec keys list --format json
              mlsec keys retire 3f9a0c1d2e4b5a69
            """,
        subcommands: [List.self, Create.self, Rotate.self, Retire.self]
    )

    struct KeyringOption: ParsableArguments {
        @Option(help: "Keyring directory (default: $MLSEC_KEYRING or ~/.mlsec/keyring).")
        var keyring: String?

        var directory: String { keyring ?? defaultKeyringDirectory() }
    }

    static func json(_ entry: Keyring.Entry) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(entry.id)), ("name", .string(entry.name)), ("status", .string(entry.status.rawValue)),
            ("created", .string(entry.created)), ("recipient", .string(entry.recipient)),
        ]
        if let retired = entry.retired { members.append(("retired", .string(retired))) }
        return .object(members)
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the keys and their versions.",
            discussion: """
                Examples:
                  mlsec keys list
                  mlsec keys list --keyring ./ring --format json
                """)
        @OptionGroup var options: KeyringOption
        @Option(help: "Output format: text or json.")
        var format: OutputFormat = .text

        func run() async throws {
            let ring = try Keyring(directory: options.directory)
            if format == .json {
                printJSON(.object([("keys", .array(ring.entries.map(KeysCommand.json)))]))
                return
            }
            for e in ring.entries {
                print("\(e.id)  \(e.name)  \(e.status.rawValue)  \(e.created)  \(e.recipient)")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a named key (its first version is active).",
            discussion: """
                The keyring's folders are created (mode 0700) when they do not exist.

                Examples:
                  mlsec keys create models
                  mlsec keys create models --keyring ./ring
                """)
        @OptionGroup var options: KeyringOption
        @Argument(help: "Key name (letters, digits, '.', '-', '_').")
        var name: String

        func run() async throws {
            let entry = try Keyring(directory: options.directory, create: true).create(name: name)
            print("created \(entry.name) id \(entry.id) recipient \(entry.recipient)")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate",
            abstract: "Make a new version of a key active and re-wrap stored files for it.",
            discussion: """
                The previous version keeps decrypting until it is retired. --rewrap re-writes the header of each \
                age file under the given paths for the new key; the payload is copied as is, so no plaintext is \
                produced and large files are re-wrapped at disk speed.

                Example:
                  mlsec keys rotate models --rewrap ./encrypted-models
                """)
        @OptionGroup var options: KeyringOption
        @Argument(help: "Key name.")
        var name: String
        @Option(parsing: .upToNextOption, help: "Age files or directories to re-wrap for the new version.")
        var rewrap: [String] = []

        func run() async throws {
            let (entry, files) = try Keyring(directory: options.directory).rotate(name: name, rewrapping: rewrap)
            print("rotated \(entry.name): active id \(entry.id) recipient \(entry.recipient)")
            for file in files { print("re-wrapped \(file)") }
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retire",
            abstract: "Retire a previous key version: its secret is destroyed and it decrypts nothing more.",
            discussion: """
                Example:
                  mlsec keys retire 3f9a0c1d2e4b5a69      # an id from `mlsec keys list`
                """)
        @OptionGroup var options: KeyringOption
        @Argument(help: "Key id (from `mlsec keys list`).")
        var id: String

        func run() async throws {
            let entry = try Keyring(directory: options.directory).retire(id: id)
            print("retired \(entry.name) id \(entry.id)")
        }
    }
}
