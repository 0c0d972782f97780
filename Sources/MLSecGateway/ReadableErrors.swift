// ReadableErrors: the errors the gateway meets from its libraries (NIO, AsyncHTTPClient, NIOSSL, JWTKit) and its
// own, described in words for audit reasons, start-up errors and logs. Call `readable(error)` (MLSecCore).

import AsyncHTTPClient
import Crypto
import Foundation
import JWTKit
import MLSecCore
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

extension GatewayError: ReadableError {
    /// The audit reason (the message unless the control gave a more precise reason).
    public var readableDescription: String { auditReason }
}

extension UpstreamFailure: ReadableError {
    var readableDescription: String { message }
}

extension HTTPClientError: ReadableError {
    public var readableDescription: String {
        switch self {
        case .connectTimeout: "connection timed out"
        case .readTimeout: "no answer in time (read timeout)"
        case .writeTimeout: "the request could not be sent in time (write timeout)"
        case .deadlineExceeded: "no answer before the deadline"
        case .tlsHandshakeTimeout: "TLS handshake timed out"
        case .remoteConnectionClosed: "the server closed the connection"
        case .getConnectionFromPoolTimeout: "no connection became free in time"
        case .cancelled: "cancelled"
        default: ReadableText.lowerFirst(shortDescription)
        }
    }
}

extension IOError: ReadableError {
    /// The errno in words ("connection refused", "connection reset by peer").
    public var readableDescription: String { ReadableText.errnoText(errnoCode) }
}

extension NIOConnectionError: ReadableError {
    public var readableDescription: String {
        let target = "\(host):\(port)"
        if !connectionErrors.isEmpty {
            var reasons: [String] = []
            for failure in connectionErrors {
                let reason = readable(failure.error, limit: 120)
                if !reasons.contains(reason) { reasons.append(reason) }
            }
            return "cannot connect to \(target): \(reasons.joined(separator: "; "))"
        }
        if let dns = dnsAError ?? dnsAAAAError {
            return dns is SocketAddressError.UnknownHost ? readable(dns, limit: 160) : "cannot resolve \(host): \(readable(dns, limit: 120))"
        }
        return "cannot connect to \(target): no address"
    }
}

extension SocketAddressError: ReadableError {
    public var readableDescription: String {
        switch self {
        case .unsupported: "the address family is not supported"
        case .unixDomainSocketPathTooLong: "the UNIX domain socket path is too long"
        case .failedToParseIPString: "not an IP address"
        default: "the host name is not known"
        }
    }
}

extension SocketAddressError.UnknownHost: ReadableError {
    public var readableDescription: String { "cannot resolve \(host) (\(ReadableText.lowerFirst(errorDescription)))" }
}

extension ChannelError: ReadableError {
    public var readableDescription: String {
        switch self {
        case .connectTimeout(let amount): "connection timed out after \(amount.nanoseconds / 1_000_000) ms"
        case .ioOnClosedChannel, .alreadyClosed: "the connection is closed"
        case .eof: "the connection ended early"
        case .writeHostUnreachable: "the host is unreachable"
        default: ReadableText.lowerFirst(description)
        }
    }
}

extension NIOSSLError: ReadableError {
    public var readableDescription: String {
        switch self {
        case .handshakeFailed(let error): "TLS handshake failed" + ReadableText.suffix(error.readableDescription)
        case .shutdownFailed(let error): "TLS shutdown failed" + ReadableText.suffix(error.readableDescription)
        case .uncleanShutdown: "the peer ended the TLS connection without closing it (unclean shutdown)"
        case .unableToValidateCertificate: "TLS: the peer's certificate could not be validated"
        case .noCertificateToValidate: "TLS: the peer sent no certificate"
        case .cannotMatchULabel: "TLS: the host name cannot be matched against the certificate"
        case .cannotFindPeerIP: "TLS: the peer's IP address is unknown, so its certificate cannot be checked"
        case .failedToLoadCertificate: "TLS: a certificate could not be loaded"
        case .failedToLoadPrivateKey: "TLS: a private key could not be loaded"
        case .noSuchFilesystemObject: "TLS: a certificate or key file does not exist"
        case .readInInvalidTLSState: "TLS: data arrived in an invalid TLS state"
        case .writeDuringTLSShutdown: "TLS: a write came during the TLS shutdown"
        default: "TLS error"
        }
    }
}

extension BoringSSLError: ReadableError {
    public var readableDescription: String {
        switch self {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack), .failedToSetALPN(let stack):
            var reasons: [String] = []
            for error in stack {
                let reason = ReadableText.boringSSLReason(error)
                if !reason.isEmpty, !reasons.contains(reason) { reasons.append(reason) }
            }
            return reasons.joined(separator: "; ")
        case .zeroReturn: return "the connection was closed"
        case .syscallError: return "a system call failed"
        default: return ReadableText.lowerFirst("\(self)")
        }
    }
}

extension NIOSSLExtraError: ReadableError {
    /// The error's meaning in words, or the library's own detail ("Unknown private key file type for key.der").
    public var readableDescription: String {
        switch self {
        case .failedToValidateHostname: return "TLS: the server's certificate does not name the host it was reached at"
        case .serverHostnameImpossibleToMatch: return "TLS: the host name cannot be matched against a certificate"
        case .cannotUseIPAddressInSNI: return "TLS: an IP address cannot be the server name (SNI)"
        case .invalidSNIHostname: return "TLS: the server name (SNI) is not valid"
        default:
            let text = description
            if let colon = text.range(of: ": ") { return "TLS: " + text[colon.upperBound...] }
            return "TLS: " + ReadableText.words(text.split(separator: ".").last.map(String.init) ?? text)
        }
    }
}

extension NIOSSLCloseTimedOutError: ReadableError {
    public var readableDescription: String { "closing the TLS connection timed out" }
}

extension CryptoKitError: ReadableError {
    public var readableDescription: String {
        switch self {
        case .incorrectKeySize: "a key has the wrong size"
        case .incorrectParameterSize: "a key parameter has the wrong size"
        case .authenticationFailure: "authentication failed (the data or its tag was changed)"
        case .invalidParameter: "a key parameter is not valid"
        case .underlyingCoreCryptoError(let code): "a cryptographic operation failed (error \(code))"
        default: ReadableText.words("\(self)")
        }
    }
}

extension JWTError: ReadableError {
    public var readableDescription: String {
        let why = ReadableText.suffix(reason ?? "")
        switch errorType {
        case .signatureVerificationFailed: return "the token's signature does not verify"
        case .claimVerificationFailure: return "a claim of the token is not valid" + why
        case .malformedToken: return "the token is malformed" + why
        case .unknownKID: return "the token's key id (kid) is not in the key set"
        case .missingKIDHeader: return "the token has no key id (kid)"
        case .invalidJWK: return "a key is not a valid JWK" + why
        case .invalidHeaderField: return "a header field of the token is not valid" + why
        case .unsupportedAlgorithm: return "the algorithm is not supported"
        case .unsupportedCurve: return "the curve is not supported"
        case .noKeyProvided: return "no key was given"
        case .signingAlgorithmFailure:
            return "the signature algorithm failed" + ReadableText.suffix(underlying.map { readable($0, limit: 120) } ?? "")
        default: return "JWT error (\(errorType))" + why
        }
    }
}

/// Small text helpers for the descriptions above.
enum ReadableText {
    /// `": reason"`, or nothing for an empty reason.
    static func suffix(_ reason: String) -> String { reason.isEmpty ? "" : ": \(reason)" }

    /// "Connection refused" -> "connection refused"; "TLS handshake timeout" and "I/O error" stay as they are.
    static func lowerFirst(_ text: String) -> String {
        let characters = Array(text.prefix(2))
        guard characters.count == 2, characters[0].isUppercase, characters[1].isLowercase else { return text }
        return characters[0].lowercased() + text.dropFirst()
    }

    /// The errno's text ("connection refused"), or "error N" for an unknown one.
    static func errnoText(_ code: CInt) -> String {
        guard code > 0, let text = strerror(code) else { return "error \(code)" }
        return lowerFirst(String(cString: text))
    }

    /// The reason of one BoringSSL error: "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED
    /// at file:line" -> "certificate verify failed"; a synthetic one ("EOF during handshake") as it is.
    static func boringSSLReason(_ error: BoringSSLInternalError) -> String {
        var text = Substring(error.description)
        if text.hasPrefix("Error:") { text = text.dropFirst(6) }
        if let start = text.range(of: "error:") {
            let fields = text[start.upperBound...].split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
            if fields.count >= 4 {
                var reason = fields[3]
                if let at = reason.range(of: " at ") { reason = reason[..<at.lowerBound] }
                return reason.lowercased().replacingOccurrences(of: "_", with: " ")
            }
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// "failedToValidateHostname" -> "failed to validate hostname".
    static func words(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase, !out.isEmpty { out.append(" ") }
            out.append(contentsOf: character.lowercased())
        }
        return out
    }
}
