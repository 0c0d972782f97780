// readable(error): audit reasons, start-up errors and log lines describe errors in words, never as Swift
// debug dumps (issue 16).

import Foundation
import HTTPTypes
import Logging
import MLSecAccess
import MLSecCore
import MLSecGateway
import MLSecStores
import NIOCore
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An error whose description is a multi-line dump, as a library's might be.
private struct DumpedError: Error, CustomStringConvertible {
    var description: String { "DumpedError(field: [\n    \"a\",\n    \"b\"\n],\tother: 1)" }
}

private struct Claims: Decodable {
    var exp: Int
}

@Suite("readable errors: sentences, not debug dumps")
struct ReadableErrorTests {
    @Test("MLSecError gives its message, GatewayError its audit reason")
    func ownErrors() {
        #expect(readable(MLSecError.io("cannot read weights.bin")) == "cannot read weights.bin")
        let refusal = GatewayError(.serviceUnavailable, "retry later", auditReason: "quota store: connection refused")
        #expect(readable(refusal) == "quota store: connection refused")
        #expect(readable(GatewayError(.badRequest, "the body is not JSON")) == "the body is not JSON")
    }

    @Test("an unknown error: its type name and its description on one bounded line")
    func unknownErrors() {
        #expect(readable(DumpedError()) == "DumpedError(field: [ \"a\", \"b\" ], other: 1)")
        let cut = readable(DumpedError(), limit: 20)
        #expect(cut.count == 20 && cut.hasSuffix("...") && !cut.contains("\n"))
        #expect(readable(CancellationError()) == "cancelled")
        struct Plain: Error {}
        #expect(readable(Plain()).hasPrefix("Plain"))
    }

    @Test("NIO errors in words: errno text, channel states")
    func nioErrors() {
        #expect(readable(IOError(errnoCode: ECONNREFUSED, reason: "connect")) == "connection refused")
        #expect(readable(IOError(errnoCode: ECONNRESET, reason: "read")) == "connection reset by peer")
        #expect(readable(ChannelError.connectTimeout(.seconds(2))) == "connection timed out after 2000 ms")
        #expect(readable(ChannelError.ioOnClosedChannel) == "the connection is closed")
        #expect(readable(ChannelError.eof) == "the connection ended early")
        #expect(readable(ChannelError.outputClosed) == "output closed")
        #expect(readable(SocketAddressError.failedToParseIPString("x")) == "not an IP address")
    }

    @Test("a decoding error names the field")
    func decodingErrors() {
        do {
            _ = try JSONDecoder().decode(Claims.self, from: Data(#"{"sub": "alice"}"#.utf8))
            Issue.record("decoded")
        } catch {
            #expect(readable(error) == "the field exp is missing")
        }
        do {
            _ = try JSONDecoder().decode(Claims.self, from: Data(#"{"exp": "soon"}"#.utf8))
            Issue.record("decoded")
        } catch {
            #expect(readable(error) == "the field exp is not a Int")
        }
    }

    /// The EC P-256 public key of RFC 7515, appendix A.3.
    static let jwks = #"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#

    @Test("JWTKit's errors: a bad signature and an unusable JWKS are sentences")
    func jwtErrors() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("readable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("jwks.json").path
        try Data(Self.jwks.utf8).write(to: URL(fileURLWithPath: path))
        let authenticator = try await JWTAuthenticator(configuration: JWTConfiguration(jwksPath: path, issuer: "i", audience: "a"))
        func part(_ text: String) -> String { Base64.encodeURL(Array(text.utf8)) }
        let token = part(#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#) + "." + part(#"{"sub":"alice","exp":4102444800}"#) + "."
            + Base64.encodeURL([UInt8](repeating: 7, count: 64))
        switch await authenticator.authenticate(token, roles: RoleBook(Role.builtIn)) {
        case .success: Issue.record("a forged token was accepted")
        case .failure(let refusal):
            #expect(refusal.reason == .mismatch)
            #expect(refusal.detail == "the token's signature does not verify")
        }

        // A key JWTKit cannot use: the start-up error says so in words.
        let broken = Self.jwks.replacingOccurrences(of: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", with: "AAAA")
        try Data(broken.utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try await JWTAuthenticator(configuration: JWTConfiguration(jwksPath: path, issuer: "i", audience: "a"))
            Issue.record("an unusable JWKS was accepted")
        } catch let error as MLSecError {
            #expect(error.message == "\(path) is not a usable JWKS: a key parameter has the wrong size")
            #expect(!error.message.contains("JWTKitError") && !error.message.contains("errorType") && !error.message.contains("\n"),
                    "\(error.message)")
        }
    }
}

@Suite("readable errors: PostgreSQL",
       .enabled(if: ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"] != nil
                    || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"))
struct ReadablePostgresErrorTests {
    @Test("a server error is the server's message and SQLSTATE, not PSQLError's generic text")
    func serverError() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let database = try PostgresDatabase(url: ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"] ?? "", logger: logger)
        do {
            _ = try await database.withDeadline { try await database.client.query("SELECT * FROM mlsec_no_such_table") }
            Issue.record("the query succeeded")
        } catch {
            #expect(readable(error) == #"PostgreSQL answered: relation "mlsec_no_such_table" does not exist (SQLSTATE 42P01)"#)
        }
    }
}
