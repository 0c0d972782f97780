// ReceiptCommand: `mlsec receipt verify`, checks a signed inference receipt offline.

import ArgumentParser
import MLSecCore
import MLSecReceipts
import MLSecIntegrity

struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Verify signed inference receipts.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a receipt's signature and, optionally, that it covers a request and response.",
            discussion: """
                Exit 0 when the receipt verifies, 1 when it does not, 2 for unreadable input.

                Example:
                  mlsec receipt verify --receipt receipt.txt --public-key receipt-key.pub.pem \\
                    --request request.json --response response.json
                """)
        @Option(help: "The MLSec-Receipt header value, or a file holding it.")
        var receipt: String
        @Option(name: .customLong("public-key"), help: "The gateway's receipt public key (PEM).")
        var publicKey: String
        @Option(help: "The exact request body that was sent.")
        var request: String?
        @Option(help: "The exact response body that was received.")
        var response: String?

        func run() async throws {
            let text = FileStatus.exists(receipt) ? try readTextFile(receipt, what: "receipt") : receipt
            let parsed = try Receipt(encoded: text)
            let key = try ModelVerifyingKey(pem: try readTextFile(publicKey, what: "public key"))
            let requestBytes = try request.map { try ReadOnlyFile.readAll($0, maxBytes: 1 << 30, what: "request") }
            let responseBytes = try response.map { try ReadOnlyFile.readAll($0, maxBytes: 1 << 30, what: "response") }
            try parsed.verify(with: key, request: requestBytes, response: responseBytes)
            printJSON(.object([("verified", .bool(true))] + parsed.fields.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        }
    }
}
