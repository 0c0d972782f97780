// MLSecCommand: the `mlsec` root command and the mapping of errors to exit codes.

import ArgumentParser
import MLSecCore
import MLSecEncryption

#if canImport(Glibc)
import Glibc
#endif

@main
struct MLSecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlsec",
        abstract: "Security for machine-learning systems: sign, verify, scan, encrypt and serve models.",
        discussion: """
            Exit codes: 0 success (verified, clean), 1 a negative verdict (verification failed), \
            2 the tool could not do its job (usage error, unreadable or malformed input).
            """,
        version: MLSecVersion.string,
        subcommands: [
            KeygenCommand.self, SignCommand.self, VerifyCommand.self, DiffCommand.self, DigestCommand.self,
            PredictCommand.self, EvaluateCommand.self, TrainCommand.self, ModelCommand.self, BenchCommand.self, ScanCommand.self,
            EncryptCommand.self, DecryptCommand.self, KeysCommand.self, AuditCommand.self, ServeCommand.self,
            ReceiptCommand.self, APIKeyCommand.self,
        ]
    )

    /// Runs the command line. Usage errors and tool failures exit 2, negative verdicts exit 1.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as AgeError {
            Terminal.error(error.message)
            Glibc.exit(1)
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
