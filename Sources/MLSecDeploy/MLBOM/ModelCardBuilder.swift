// ModelCardBuilder: the model card of an ML-BOM: architecture, datasets, metrics and security considerations.

import MLSecCore
import MLSecEngine
import MLSecFormats
import MLSecSupplyChain

/// Writes the CycloneDX model card from what was read from the model and the registry's record.
enum ModelCardBuilder {
    static func card(facts: ModelFacts, registered: RegisteredVersion?, datasetRefs: [String]) -> CycloneDX.ModelCard {
        var parameters = CycloneDX.ModelParameters(datasetRefs: datasetRefs)
        if let spec = facts.spec {
            // MLSec's engine trains classifiers from labelled examples (mlsec train): supervised classification.
            parameters.approach = .supervised
            parameters.task = "classification"
            parameters.architectureFamily = architectureFamily(spec)
            parameters.modelArchitecture = architecture(spec, weights: facts.weights)
            parameters.inputs = [describe(spec.input, role: "input")]
            parameters.outputs = [describe(spec.output, role: "output")]
        }
        let metrics = (registered?.evaluations ?? [:]).sorted { $0.key < $1.key }.map {
            CycloneDX.PerformanceMetric(type: $0.key, value: number($0.value))
        }
        var considerations = CycloneDX.Considerations(ethicalConsiderations: securityConsiderations(facts: facts, registered: registered))
        if let input = facts.spec?.input, let min = input.min, let max = input.max {
            considerations.technicalLimitations.append(
                "Inputs are expected in [\(number(Double(min))), \(number(Double(max)))] (the range model.json declares)")
        }
        if let registered, registered.stage == .revoked {
            considerations.technicalLimitations.append(
                "This version was revoked by \(registered.stageChangedBy.prefix(100)) (\(registered.stageReason.prefix(200))): "
                    + "it must not be deployed")
        }
        var properties: [CycloneDX.Property] = []
        if let weights = facts.weights {
            let dtypes = Set(weights.tensors.map(\.dtype.rawValue)).sorted()
            if !dtypes.isEmpty { properties.append(.init("mlsec:dtypes", dtypes.joined(separator: ","))) }
        }
        return CycloneDX.ModelCard(
            modelParameters: parameters, performanceMetrics: metrics, considerations: considerations, properties: properties)
    }

    /// Security considerations, as risks with how they are addressed (or that they are not).
    static func securityConsiderations(facts: ModelFacts, registered: RegisteredVersion?) -> [CycloneDX.Risk] {
        var risks: [CycloneDX.Risk] = []
        let tampering: String
        if let registered {
            tampering = "Signed by \(registered.signer) (OpenSSF model signing); the signature covers every file through the manifest "
                + "root digest \(registered.manifestDigest), verified when the version was registered and again by MLSec's loader before "
                + "the weights are used"
        } else if facts.signature != nil {
            tampering = "A signature bundle accompanies the model (listed with its SHA-256); this BOM did not verify it: run mlsec verify "
                + "with the signer's public key before use"
        } else {
            tampering = "Not signed: sign the model (mlsec sign) and verify it (mlsec verify) before use; the file hashes here only "
                + "describe the files"
        }
        risks.append(CycloneDX.Risk(name: "Tampered or substituted model files", mitigationStrategy: tampering))

        let format = weightsFormat(facts)
        var execution: String
        switch format {
        case "safetensors":
            execution = "The weights are safetensors, a pickle-free format that holds only tensors (no code runs when they are loaded)"
        case "pickle":
            execution = "The weights are in a pickle-based format, which can run code when loaded: scan them (mlsec scan) and convert them "
                + "to safetensors"
        default:
            execution = "Weights format: \(format); scan the files (mlsec scan) before loading them"
        }
        if let registered { execution += "; scanner verdict when registered: \(registered.scanVerdict)" }
        risks.append(CycloneDX.Risk(name: "Code execution when the model is loaded", mitigationStrategy: execution))

        let encrypted = facts.encryptedFiles
        risks.append(CycloneDX.Risk(
            name: "Disclosure of the model at rest",
            mitigationStrategy: encrypted.isEmpty
                ? "Not encrypted at rest: the files lie in the clear (mlsec encrypt, age format)"
                : "Encrypted at rest with age: \(encrypted.joined(separator: ", ")); decrypted only in memory by the loader"))
        if let watermark = registered?.watermark {
            risks.append(CycloneDX.Risk(name: "Model theft or unattributed copies", mitigationStrategy: "Watermark status: \(watermark)"))
        }
        return risks
    }

    /// The weights' format, from the file names (the BOM describes, it does not load).
    static func weightsFormat(_ facts: ModelFacts) -> String {
        let names = facts.files.map { $0.path.hasSuffix(".age") ? String($0.path.dropLast(4)) : $0.path }
        func any(_ suffixes: [String]) -> Bool { names.contains { name in suffixes.contains { name.lowercased().hasSuffix($0) } } }
        if any([".safetensors"]) { return "safetensors" }
        if any([".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".joblib"]) { return "pickle" }
        if any([".gguf"]) { return "gguf" }
        if any([".onnx"]) { return "onnx" }
        if any([".npz", ".npy"]) { return "numpy" }
        if any([".h5", ".hdf5", ".keras"]) { return "hdf5" }
        return "unknown"
    }

    static func architectureFamily(_ spec: ModelSpec) -> String {
        spec.layers.contains { if case .conv2d = $0.layer { true } else { false } }
            ? "convolutional neural network" : "feed-forward neural network (multilayer perceptron)"
    }

    /// The layers in order, with the sizes the weights give (`dense 784->128, relu, dense 128->10, softmax`).
    static func architecture(_ spec: ModelSpec, weights: SafetensorsHeader?) -> String {
        func shape(_ name: String) -> [Int]? { weights?.tensor(named: name)?.shape }
        return spec.layers.map { entry -> String in
            switch entry.layer {
            case .dense(let weight, _):
                if let s = shape(weight), s.count == 2 { return "dense \(s[1])->\(s[0])" }
                return entry.outputs.map { "dense ->\($0)" } ?? "dense"
            case .conv2d(let weight, _, let stride, let padding):
                if let s = shape(weight), s.count == 4 {
                    return "conv2d \(s[1])->\(s[0]) \(s[2])x\(s[3]) stride \(stride) padding \(padding)"
                }
                return "conv2d"
            case .maxPool2d(let kernel, let stride), .avgPool2d(let kernel, let stride):
                return "\(entry.layer.typeName) \(kernel)x\(kernel) stride \(stride)"
            default:
                return entry.layer.typeName
            }
        }.joined(separator: ", ")
    }

    static func describe(_ tensor: TensorSpec, role: String) -> String {
        let dims = tensor.shape.map(String.init).joined(separator: ", ")
        var text = "tensor \(tensor.name) \(tensor.datatype) [\(dims)]"
        if let min = tensor.min, let max = tensor.max { text += " in [\(number(Double(min))), \(number(Double(max)))]" }
        return text
    }

    /// A metric as text: integers without a fraction, others as Swift prints them (shortest exact form).
    static func number(_ value: Double) -> String {
        value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
}
