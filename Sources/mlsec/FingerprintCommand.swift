// FingerprintCommand: `mlsec fingerprint create|match` (in progress).

import ArgumentParser

struct FingerprintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fingerprint", abstract: "Fingerprint models and match suspects.")
}
