// ModelStore: reads and writes model directories (model.json + weights.safetensors).

import Foundation
import MLSecCore
import MLSecFormats

/// Model directories on disk: `model.json` and `weights.safetensors`.
public enum ModelStore {
    public static let specFile = "model.json"
    public static let weightsFile = "weights.safetensors"

    /// Loads and checks a model directory. Only the tensors the layers name are read.
    public static func load(directory: String) throws -> Model {
        let specBytes = try ReadOnlyFile.readAll(directory + "/" + specFile, maxBytes: 1 << 20, what: "model.json")
        let spec = try ModelSpec(json: specBytes, context: directory + "/" + specFile)
        let weights = try SafetensorsFile(path: directory + "/" + weightsFile)
        return try bind(spec: spec, weights: weights, context: directory + "/" + weightsFile)
    }

    /// Loads a model from in-memory files (for example decrypted in memory).
    public static func load(specBytes: [UInt8], weightsBytes: [UInt8]) throws -> Model {
        let spec = try ModelSpec(json: specBytes)
        return try bind(spec: spec, weights: try SafetensorsFile(bytes: weightsBytes), context: weightsFile)
    }

    static func bind(spec: ModelSpec, weights file: SafetensorsFile, context: String) throws -> Model {
        var tensors: [String: Tensor] = [:]
        for name in Set(spec.layers.flatMap(\.layer.parameterNames)) {
            guard let info = file.header.tensor(named: name) else {
                throw MLSecError.malformed("\(context) has no tensor named \"\(name)\" (model.json refers to it)")
            }
            tensors[name] = try Tensor(shape: info.shape, data: try file.floats(name))
        }
        return try Model(spec: spec, weights: tensors)
    }

    /// Writes `model` to `directory` (created if needed). Each file is written atomically.
    public static func save(_ model: Model, to directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw MLSecError.io("\(directory) exists and is not a directory") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw MLSecError.io("cannot create \(directory): \(error.localizedDescription)")
            }
        }
        var spec = model.spec
        // Record sizes so the model.json alone can re-create the architecture.
        for i in spec.layers.indices {
            if case .dense(let w, _) = spec.layers[i].layer, let t = model.weights[w] {
                spec.layers[i].outputs = t.shape[0]
            }
            if case .conv2d(let w, _, _, _) = spec.layers[i].layer, let t = model.weights[w] {
                spec.layers[i].outputs = t.shape[0]
                if t.shape[2] == t.shape[3] { spec.layers[i].kernelSize = t.shape[2] }
            }
        }
        let tensors = zip(model.parameterNames, model.parameters).map { (name: $0, shape: $1.shape, values: $1.data) }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory + "/" + weightsFile)
        try AtomicFile.write(JSONWriter.bytes(spec.json, options: .init(pretty: true)) + [0x0a],
                             to: directory + "/" + specFile)
    }
}
