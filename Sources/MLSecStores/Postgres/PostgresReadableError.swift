// PostgresReadableError: PostgresNIO's errors in words. PSQLError's description says nothing on purpose (it
// could hold query data); `readable(error)` (MLSecCore) gives what failed instead: the server's message and
// SQLSTATE, or the connection's failure.

import MLSecCore
import PostgresNIO

extension PSQLError: ReadableError {
    public var readableDescription: String {
        let cause = underlying.map { ": " + readable($0, limit: 160) } ?? ""
        switch code {
        case .server:
            let message = serverInfo?[.message].map { String($0.prefix(200)) } ?? "an error"
            let state = serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return "PostgreSQL answered: \(message)\(state)"
        case .connectionError: return "cannot connect to PostgreSQL" + cause
        case .sslUnsupported: return "the PostgreSQL server does not offer TLS"
        case .failedToAddSSLHandler: return "cannot start TLS to PostgreSQL" + cause
        case .receivedUnencryptedDataAfterSSLRequest: return "the PostgreSQL server answered TLS with unencrypted data"
        case .serverClosedConnection: return "PostgreSQL closed the connection" + cause
        case .clientClosedConnection: return "the PostgreSQL connection was closed" + cause
        case .uncleanShutdown: return "the PostgreSQL connection ended uncleanly" + cause
        case .poolClosed: return "the PostgreSQL connection pool is closed"
        case .queryCancelled: return "the PostgreSQL query was cancelled"
        case .authMechanismRequiresPassword: return "PostgreSQL asks for a password and none was given"
        case .unsupportedAuthMechanism: return "PostgreSQL asks for an authentication method that is not supported"
        case .saslError: return "PostgreSQL authentication (SCRAM) failed" + cause
        case .tooManyParameters: return "the PostgreSQL query has too many parameters"
        case .messageDecodingFailure, .unexpectedBackendMessage, .invalidCommandTag:
            return "PostgreSQL sent an unexpected message (\(code))"
        default: return "PostgreSQL error (\(code))" + cause
        }
    }
}
