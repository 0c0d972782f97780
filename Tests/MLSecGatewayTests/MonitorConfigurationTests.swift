// MonitorConfigurationTests.swift: models[].monitor and extraction_defense in the configuration (strict: unknown
// keys, plain-http or credentialed webhooks, unknown roles and out-of-range values refused; reloads of a changed
// defense need a restart), and answers cut to top-k, rounded or to labels.

import Foundation
import MLSecCore
import MLSecGateway
import Testing

@Suite struct MonitorConfigurationTests {
    func configuration(_ extra: String, monitor: String = #"{"reference": "monitor.json"}"#) throws -> GatewayConfiguration {
        let dir = NSTemporaryDirectory() + "mlsec-monitor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(#"""
            {"state_dir": "s", "roles": {"partner": ["infer"]}\#(extra),
             "models": [{"name": "m", "path": "m", "signature": "m.sig", "public_keys": ["k.pub"], "monitor": \#(monitor)}]}
            """#, to: "\(dir)/g.json")
        return try GatewayConfiguration(path: "\(dir)/g.json")
    }

    @Test func monitorPolicyParsesWithDefaultsAndResolvesTheReference() throws {
        let c = try configuration("", monitor: #"""
            {"reference": "refs/{version}.json", "window": 200, "ood_action": "refuse",
             "query_pattern": {"action": "throttle", "throttle_factor": 0.2, "min_queries": 20},
             "webhooks": ["https://alerts.example/hook"], "webhook_timeout_ms": 500}
            """#)
        let policy = try #require(c.models[0].monitor)
        #expect(policy.reference.hasPrefix("/") && policy.reference.hasSuffix("refs/{version}.json"))
        #expect(policy.oodAction == .refuse && policy.queryAction == .throttle && policy.throttleFactor == 0.2)
        #expect(policy.webhooks == ["https://alerts.example/hook"] && policy.webhookTimeout == .milliseconds(500))
        let plain = try #require(try configuration("").models[0].monitor)
        #expect(plain.oodAction == .flag && plain.queryAction == .flag && plain.webhooks.isEmpty && plain.blockSeconds == 600)
    }

    @Test func hostileMonitorSettingsAreRefused() throws {
        let refused = [
            #"{"reference": "r.json", "windw": 10}"#,
            #"{"window": 100}"#,
            #"{"reference": "r.json", "window": 5}"#,
            #"{"reference": "r.json", "ks_p_value": 0.9}"#,
            #"{"reference": "r.json", "ood_action": "ignore"}"#,
            #"{"reference": "r.json", "query_pattern": {"action": "ban"}}"#,
            #"{"reference": "r.json", "query_pattern": {"probe_share": 1e999}}"#,
            #"{"reference": "r.json", "webhooks": ["http://alerts.example/x"]}"#,
            #"{"reference": "r.json", "webhooks": ["https://user:secret@alerts.example/x"]}"#,
            #"{"reference": "r.json", "webhooks": ["not a url"]}"#,
            #"{"reference": "r.json", "webhooks": [1]}"#,
        ]
        for monitor in refused {
            #expect(throws: MLSecError.self, "\(monitor)") { _ = try configuration("", monitor: monitor) }
        }
        // Plain http only when asked for.
        let insecure = try configuration("", monitor: #"{"reference": "r.json", "webhooks": ["http://127.0.0.1:9/x"], "allow_insecure_webhooks": true}"#)
        #expect(insecure.models[0].monitor?.webhooks == ["http://127.0.0.1:9/x"])
    }

    @Test func extractionDefenseIsPerKnownRole() throws {
        let c = try configuration(#", "extraction_defense": {"partner": {"top_k": 2, "decimals": 1, "budget": {"distinct_inputs": 10, "window_seconds": 60}}, "inference": {"labels_only": true}}"#)
        #expect(c.extractionDefense["partner"]?.topK == 2 && c.extractionDefense["partner"]?.budget?.windowSeconds == 60)
        #expect(c.extractionDefense["inference"]?.labelsOnly == true)
        for bad in [
            #", "extraction_defense": {"nobody": {"top_k": 1}}"#, #", "extraction_defense": {"partner": {"top_k": 0}}"#,
            #", "extraction_defense": {"partner": {"decimals": 9}}"#, #", "extraction_defense": {"partner": {"budget": {"distinct_inputs": 10}}}"#,
            #", "extraction_defense": {"partner": {"topk": 1}}"#,
        ] {
            #expect(throws: MLSecError.self, "\(bad)") { _ = try configuration(bad) }
        }
        // A changed defense needs a restart (it is fixed in the per-request settings).
        let other = try configuration(#", "extraction_defense": {"partner": {"top_k": 3}}"#)
        #expect(c.restartOnlyChanges(to: other).contains("extraction_defense"))
    }

    @Test func answersAreCutToTopKRoundedOrLabels() throws {
        var topTwo = ExtractionPolicy()
        topTwo.topK = 2
        topTwo.decimals = 1
        var values: [Float] = [0.12, 0.55, 0.33, 0.25, 0.25, 0.5]
        topTwo.limit(&values, batch: 2, width: 3)
        #expect(values == [0, 0.6, 0.3, 0.3, 0, 0.5])  // ties keep the lower index
        var labels = ExtractionPolicy()
        labels.labelsOnly = true
        var logits: [Float] = [-1, 3, 2]
        labels.limit(&logits, batch: 1, width: 3)
        #expect(logits == [0, 1, 0])
        var none = ExtractionPolicy()
        var same: [Float] = [0.123456, 0.876544]
        none.limit(&same, batch: 1, width: 2)
        #expect(same == [0.123456, 0.876544])
        none.decimals = 3
        none.limit(&same, batch: 1, width: 2)
        #expect(same == [0.123, 0.877])
    }
}
