// CertificateReloader: serves the TLS certificate and key from their files, picking up replacements live.

import Foundation
import MLSecCore
import NIOCore
import NIOSSL
import Synchronization

/// Holds the server certificate chain and key and re-reads them when the files change (checked at most every
/// two seconds, at a handshake), so a renewed certificate takes effect without dropping connections or
/// restarting. A replacement that does not load (half-written, mismatched) is ignored and the old pair kept.
public final class CertificateReloader: Sendable {
    let certificatePath: String
    let keyPath: String
    private struct State {
        var override: NIOSSLContextConfigurationOverride
        var stamp: [Int64]
        var lastCheck: UInt64
    }
    private let state: Mutex<State>

    public init(certificate: String, privateKey: String) throws {
        certificatePath = certificate
        keyPath = privateKey
        let (override, stamp) = try Self.load(certificate, privateKey)
        state = Mutex(State(override: override, stamp: stamp, lastCheck: DispatchTime.now().uptimeNanoseconds))
    }

    static func stamp(_ paths: [String]) -> [Int64] {
        paths.flatMap { path -> [Int64] in
            guard let s = try? FileStatus.status(path) else { return [-1, -1] }
            return [s.modificationTimeNanoseconds, Int64(s.inode)]
        }
    }

    static func load(_ certificate: String, _ key: String) throws -> (NIOSSLContextConfigurationOverride, [Int64]) {
        let stamp = stamp([certificate, key])
        let chain = try NIOSSLCertificate.fromPEMFile(certificate)
        guard !chain.isEmpty else { throw MLSecError.malformed("\(certificate) holds no certificate") }
        let certificates = chain.map { NIOSSLCertificateSource.certificate($0) }
        let privateKey = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        // Refuse a key that does not belong to the certificate.
        _ = try NIOSSLContext(configuration: TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates, privateKey: privateKey))
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = certificates
        override.privateKey = privateKey
        return (override, stamp)
    }

    /// The current pair, reloaded first if the files changed.
    public func current() -> NIOSSLContextConfigurationOverride {
        let now = DispatchTime.now().uptimeNanoseconds
        let due = state.withLock { s -> Bool in
            guard now - s.lastCheck >= 2_000_000_000 else { return false }
            s.lastCheck = now
            return true
        }
        if due, Self.stamp([certificatePath, keyPath]) != state.withLock({ $0.stamp }),
            let (override, stamp) = try? Self.load(certificatePath, keyPath)
        {
            state.withLock {
                $0.override = override
                $0.stamp = stamp
            }
        }
        return state.withLock { $0.override }
    }

    /// The callback for `TLSConfiguration.sslContextCallback`.
    public var callback: NIOSSLContextCallback {
        { [self] _, promise in promise.succeed(self.current()) }
    }
}
