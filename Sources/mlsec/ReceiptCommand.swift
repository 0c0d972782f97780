// ReceiptCommand: `mlsec receipt verify`, checks a signed inference receipt offline.

import ArgumentParser
import MLSecCore
import MLSecReceipts
import MLSecIntegrity

struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Verify signed inference receipts.",
        discussion: """
            Every answer of the gateway carries a signed receipt (the MLSec-Receipt header) naming the model, its \
            digest and SHA-256 of the request and response.

            Example:
              mlsec receipt verify --receipt receipt.txt --public-key receipt-key.pub.pem \\
                --request request.json --response response.json
            """,
        subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a receipt's signature and, optionally, that it covers a request and response.",
            discussion: """
                Exit 0 when the receipt verifies, 1 when it does not, 2 for unreadable input. Without --request \
                and --response only the signature is checked, and a note on standard error says so; the JSON \
                result lists what was checked ("checked").

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
            let checked = ["signature"] + (request == nil ? [] : ["request"]) + (response == nil ? [] : ["response"])
            switch (request, response) {
            case (nil, nil):
                Terminal.note("note: checked the receipt's signature only; give --request and --response to check that it covers them")
            case (nil, _):
                Terminal.note("note: checked the signature and the response, not the request (give --request for that)")
            case (_, nil):
                Terminal.note("note: checked the signature and the request, not the response (give --response for that)")
            default:
                break
            }
            printJSON(.object([("verified", .bool(true)), ("checked", .strings(checked))]
                + parsed.fields.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        }
    }
}
