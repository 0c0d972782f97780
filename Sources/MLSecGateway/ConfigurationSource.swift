// ConfigurationSource: where SIGHUP reads the gateway's configuration again: its file, or the demo's generator.

import MLSecCore

/// What a SIGHUP reload reads: the configuration file (with the command line's overrides applied again, so
/// that they are not mistaken for changes), or for `mlsec serve --demo` the configuration it generates.
public struct ConfigurationSource: Sendable {
    /// Names it in logs and in the reload's audit entry: the file's path, or "demo:DIR".
    public var name: String
    /// Produces the configuration as the gateway was started with it.
    public var load: @Sendable () async throws -> GatewayConfiguration

    public init(name: String, load: @escaping @Sendable () async throws -> GatewayConfiguration) {
        self.name = name
        self.load = load
    }

    /// The configuration file at `path`, then `adjust` (the command line's overrides).
    public static func file(_ path: String, adjust: @escaping @Sendable (inout GatewayConfiguration) -> Void = { _ in })
        -> ConfigurationSource
    {
        ConfigurationSource(name: path) {
            var configuration = try GatewayConfiguration(path: path)
            adjust(&configuration)
            return configuration
        }
    }
}
