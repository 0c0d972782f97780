// Policy files: an allow entry for a callable on the always-dangerous list is refused, not ignored (issue 16).

import Foundation
import MLSecCore
import MLSecScan
import Testing

@Suite struct ScanPolicyFileTests {
    static func load(_ json: String) throws -> ScanPolicy {
        let path = NSTemporaryDirectory() + "mlsec-policy-\(UUID().uuidString).json"
        try Array(json.utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ScanPolicy.load(path: path)
    }

    @Test("allowing an always-dangerous callable or a pattern inside a dangerous module is refused, naming it",
          arguments: ["os.system", "builtins.eval", "__builtin__.exec", "posix.system", "subprocess.*", "os.path.*",
                      "builtins.getattr.*", "torch.load", "operator.attrgetter"])
    func refusesDangerousAllowEntries(_ entry: String) {
        #expect { try Self.load(#"{"allow": ["mypkg.Model", "\#(entry)"]}"#) } throws: { error in
            guard let error = error as? MLSecError, error.code == .malformed else { return false }
            return error.message.contains("always-dangerous") && error.message.contains(entry)
        }
    }

    @Test("ordinary entries and broad patterns that merely contain dangerous callables load; the list still wins")
    func acceptsOrdinaryEntries() throws {
        let policy = try Self.load(#"{"allow": ["mypkg.models.*", "torch.*", "builtins.*", "acme.Net"], "deny": ["os.system"]}"#)
        #expect(policy.decide(module: "acme", name: "Net") == .allowed)
        #expect(policy.decide(module: "mypkg.models.v2", name: "Layer") == .allowed)
        guard case .denied(let dangerous, _) = policy.decide(module: "torch", name: "load") else {
            Issue.record("torch.load allowed by torch.*")
            return
        }
        #expect(dangerous)
        guard case .denied(true, _) = policy.decide(module: "builtins", name: "eval") else {
            Issue.record("builtins.eval allowed by builtins.*")
            return
        }
    }
}
