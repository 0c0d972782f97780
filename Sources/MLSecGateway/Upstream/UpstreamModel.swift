// UpstreamModel: a model served by upstream V2 servers, described by their metadata.

import Crypto
import MLSecCore

extension LoadedModel {
    /// An upstream-served model: its tensors come from the upstream's V2 metadata (FP32, [-1, n] in and out);
    /// the gateway still authenticates, limits, validates, signs receipts and audits every request.
    static func upstream(_ source: ModelSource) async throws -> LoadedModel {
        let pool = try UpstreamPool(model: source.name, endpoints: source.upstreams, policy: source.upstreamPolicy)
        let upstreamModel = source.upstreamModel ?? source.name
        let metadata = try await pool.metadata(upstreamModel: upstreamModel)
        func tensor(_ list: String) throws -> ServedTensor {
            guard let tensors = metadata[list]?.arrayValue, tensors.count == 1, let name = tensors[0]["name"]?.stringValue,
                tensors[0]["datatype"]?.stringValue == "FP32", let shape = tensors[0]["shape"]?.arrayValue?.compactMap(\.integerValue),
                shape.count == 2, shape[0] == -1, shape[1] >= 1, shape[1] <= 1 << 20
            else {
                throw MLSecError.unsupported("model \(source.name): the upstream must declare one FP32 \(list.dropLast()) of shape [-1, n]")
            }
            return ServedTensor(name: name, datatype: "FP32", shape: shape, range: list == "inputs" ? source.inputRange : nil)
        }
        let digest = source.digest ?? "sha256:" + Hex.encode(SHA256.hash(data: JSONWriter.canonical(metadata)))
        var model = LoadedModel(name: source.name, version: source.version, digest: digest, model: nil, input: try tensor("inputs"),
                                output: try tensor("outputs"), endsWithSoftmax: source.softmaxOutput)
        model.upstream = pool
        model.upstreamModel = upstreamModel
        pool.startHealthChecks()
        return model
    }
}
