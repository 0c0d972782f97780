// MLSecCommand: the `mlsec` root command and the mapping of errors to exit codes.

import ArgumentParser
import Dispatch
import MLSecCore
import MLSecEncryption
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

@main
struct MLSecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlsec",
        abstract: "Security for machine-learning systems: sign, verify, scan, encrypt and serve models.",
        discussion: """
            Exit codes: 0 success (verified, clean), 1 a negative verdict (verification failed, unsafe file, \
            decryption failed), 2 the tool could not do its job (usage error, unreadable or malformed input).
            Results go to standard output, diagnostics to standard error; --format json where offered.

            Examples (a first hour):
              mlsec serve --demo --state-dir mlsec-demo     # a signed demo model, served
              mlsec keygen --private-key signing.pem --public-key signing.pub
              mlsec scan ./my-model
              mlsec sign ./my-model --private-key signing.pem --signature my-model.sig
              mlsec verify ./my-model --signature my-model.sig --public-key signing.pub
              mlsec <command> --help                        # each command's examples
            """,
        version: MLSecVersion.string,
        // In the order a user meets them: serve the demo, sign and verify, scan, encrypt, then the rest.
        subcommands: [
            ServeCommand.self, SignCommand.self, VerifyCommand.self, ScanCommand.self, EncryptCommand.self,
            DecryptCommand.self, PrivacyCommand.self, KeygenCommand.self, KeysCommand.self, APIKeyCommand.self, RegistryCommand.self, DeployCommand.self, DeploymentsCommand.self, SBOMCommand.self, AuditDepsCommand.self, ReceiptCommand.self,
            AuditCommand.self, DiffCommand.self, DigestCommand.self, TrainCommand.self, PredictCommand.self,
            EvaluateCommand.self, ModelCommand.self, AttackCommand.self, CertifyCommand.self, DetectorCommand.self,
            RobustnessCommand.self, WatermarkCommand.self, FingerprintCommand.self, DataCommand.self, MonitorCommand.self, BenchCommand.self,
        ]
    )

    /// Runs the command line. Usage errors and tool failures exit 2, negative verdicts exit 1.
    ///
    /// `main` is synchronous so that `mlsec serve` can hand Swift Concurrency's global executor to NIO's event
    /// loops before any task starts: request handlers then run on the thread that owns the connection instead
    /// of hopping to a separate thread pool and back (about a third of the gateway's CPU went to those hops).
    /// Set `MLSEC_EXECUTOR=dispatch` to keep the default executor.
    ///
    /// Every other command starts on the main thread (docs/scanning.md, "Start-up"): `runImmediately` runs it there
    /// up to its first real suspension, so `--version`, `--help`, usage errors and a command that never suspends
    /// (`scan`, `digest`, `verify`) finish without starting Dispatch's worker threads (the hop to a worker thread
    /// cost 0.2 to 1 ms of CPU, and on a busy machine the worker waited milliseconds more for a CPU).
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.first == "serve" else {
            runImmediately()
            dispatchMain()
        }
        if getenv("MLSEC_EXECUTOR").map({ String(cString: $0) }) != "dispatch" {
            if !ExecutorTakeover.install() {
                // Serving works without it, at about a third more CPU per request.
                Terminal.warning("Swift Concurrency's executor stays Dispatch's (NIO could not take it over)")
            }
        }
        Task {
            await runCommandLine()
            Glibc.exit(0)
        }
        dispatchMain()
    }

    /// Starts the command line as a nonisolated task that runs at once on the calling thread. It must be
    /// nonisolated: `main` is on the main actor, and a main-actor task calling the commands' nonisolated `run`
    /// would hop to a worker thread at the first call.
    private nonisolated static func runImmediately() {
        Task.immediate {
            await runCommandLine()
            Glibc.exit(0)
        }
    }

    /// `mlsec --version` and `mlsec scan PATH...` (paths only, no option) run without the argument parser, whose
    /// reflection costs about 2.5 ms of a 7 ms start (docs/scanning.md, "Start-up"); every other command line,
    /// `--help` included, goes to the parser. Returns whether it ran the command.
    private static func runWithoutParser(_ arguments: [String]) async throws -> Bool {
        if getenv("MLSEC_PARSE_ONLY") != nil { return false }  // parse and run nothing: that needs the parser
        if arguments == ["--version"] {
            print(MLSecVersion.string)
            return true
        }
        if arguments.count >= 2, arguments[0] == "scan", !arguments.dropFirst().contains(where: { $0.hasPrefix("-") }) {
            try await ScanCommand.scan(paths: Array(arguments.dropFirst()))
            return true
        }
        return false
    }

    private static func runCommandLine() async {
        do {
            if try await runWithoutParser(Array(CommandLine.arguments.dropFirst())) { return }
            var command = try parseAsRoot()
            // MLSEC_PARSE_ONLY: parse and validate the arguments, run nothing (the docs' command lines are checked so).
            if getenv("MLSEC_PARSE_ONLY") != nil { Glibc.exit(0) }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as AgeError {
            // Not an age file (armor, header): the tool could not do its job (2); a file that does not decrypt: 1.
            Terminal.error(error.message)
            Glibc.exit(error.isMalformedInput ? 2 : 1)
        } catch let error as MLSecError {
            Terminal.error(error.message)
            Glibc.exit(error.code == .verificationFailed ? 1 : 2)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let exitCode = MLSecCommand.exitCode(for: error)
            if exitCode == .success {
                MLSecCommand.exit(withError: error)  // --help, --version
            }
            Terminal.note(MLSecCommand.fullMessage(for: error))
            Glibc.exit(2)
        }
    }
}

enum MLSecVersion {
    static let string = "0.1.0"
}
