// The ML-BOM: what it says about a plain model directory and a registered version, and hostile directories refused.

import Crypto
import Foundation
import MLSecCore
import MLSecDeploy
import MLSecEncryption
import MLSecEngine
import MLSecSupplyChain
import Testing

/// The BOM of `build` parsed back, with helpers to find components and properties.
struct ParsedBOM {
    let json: JSONValue

    init(_ bytes: [UInt8]) throws {
        json = try JSONParser().parse(bytes, context: "BOM")
    }

    var components: [JSONValue] { json["components"]?.arrayValue ?? [] }

    func component(ref: String) -> JSONValue? { components.first { $0["bom-ref"]?.stringValue == ref } }

    func components(type: String) -> [JSONValue] { components.filter { $0["type"]?.stringValue == type } }

    static func property(_ component: JSONValue?, _ name: String) -> String? {
        component?["properties"]?.arrayValue?.first { $0["name"]?.stringValue == name }?["value"]?.stringValue
    }

    static func sha256(_ component: JSONValue?) -> String? {
        component?["hashes"]?.arrayValue?.first { $0["alg"]?.stringValue == "SHA-256" }?["content"]?.stringValue
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes)) }

func fixedOptions() -> ModelBOM.Options {
    ModelBOM.Options(timestamp: Date(timeIntervalSince1970: 1_800_000_000),
                     serialNumber: UUID(uuidString: "6F1C2A43-0D55-4C1E-9A57-3B1E2D4C5F60")!, toolVersion: "test")
}

@Suite("ML-BOM of a model")
struct ModelBOMTests {
    @Test("a plain directory: the model with its card, each file with its SHA-256, the manifest digest as the model's hash")
    func plainDirectory() throws {
        let model = try SignedModel()
        defer { model.remove() }
        let bom = try ParsedBOM(ModelBOM.build(directory: model.modelDir, version: "1", signature: model.signature, options: fixedOptions()))
        #expect(bom.json["bomFormat"]?.stringValue == "CycloneDX")
        #expect(bom.json["specVersion"]?.stringValue == "1.6")
        #expect(bom.json["serialNumber"]?.stringValue == "urn:uuid:6f1c2a43-0d55-4c1e-9a57-3b1e2d4c5f60")

        let files = ModelLoader.modelFiles.sorted()
        var digests: [[UInt8]] = []
        for file in files {
            let bytes = try ReadOnlyFile.readAll("\(model.modelDir)/\(file)", maxBytes: 1 << 24)
            digests.append(Array(SHA256.hash(data: bytes)))
            let component = try #require(bom.component(ref: "file:\(file)"))
            #expect(component["type"]?.stringValue == "file")
            #expect(ParsedBOM.sha256(component) == sha256Hex(bytes))
            #expect(ParsedBOM.property(component, "mlsec:size") == String(bytes.count))
        }
        let root = sha256Hex(digests.flatMap { $0 })

        let ml = try #require(bom.components(type: "machine-learning-model").first)
        #expect(ml["name"]?.stringValue == "digits")
        #expect(ml["version"]?.stringValue == "1")
        #expect(ParsedBOM.sha256(ml) == root)
        #expect(ParsedBOM.property(ml, "mlsec:manifest-digest") == "sha256:" + root)
        #expect(ParsedBOM.property(ml, "mlsec:format") == "safetensors")
        let parameterCount: Int = 64 * 16 + 16 + 16 * 10 + 10
        #expect(ParsedBOM.property(ml, "mlsec:parameter-count") == String(parameterCount))
        #expect(ParsedBOM.property(ml, "mlsec:encrypted-at-rest") == "none")
        #expect(ParsedBOM.property(ml, "mlsec:signer") == nil)  // only a registered (verified) version names its signer
        let signatureBytes = try ReadOnlyFile.readAll(model.signature, maxBytes: 1 << 24)
        #expect(ParsedBOM.property(ml, "mlsec:signature-sha256") == "sha256:" + sha256Hex(signatureBytes))

        let parameters = try #require(ml["modelCard"]?["modelParameters"])
        #expect(parameters["approach"]?["type"]?.stringValue == "supervised")
        #expect(parameters["architectureFamily"]?.stringValue?.contains("multilayer perceptron") == true)
        #expect(parameters["modelArchitecture"]?.stringValue?.hasPrefix("dense 64->16") == true)
        let risks = ml["modelCard"]?["considerations"]?["ethicalConsiderations"]?.arrayValue ?? []
        #expect(risks.contains { $0["mitigationStrategy"]?.stringValue?.contains("pickle-free") == true })
        #expect(risks.contains { $0["mitigationStrategy"]?.stringValue?.contains("Not encrypted at rest") == true })

        let signature = try #require(bom.components.first { ParsedBOM.property($0, "mlsec:role") == "signature-bundle" })
        #expect(ParsedBOM.sha256(signature) == sha256Hex(signatureBytes))

        let graph = try #require(bom.json["dependencies"]?.arrayValue?.first { $0["ref"]?.stringValue == ml["bom-ref"]?.stringValue })
        #expect(graph["dependsOn"]?.arrayValue?.compactMap(\.stringValue) == files.map { "file:\($0)" })
    }

    @Test("the same model and options give the same bytes (members in a fixed order)")
    func deterministic() throws {
        let model = try SignedModel()
        defer { model.remove() }
        let first = try ModelBOM.build(directory: model.modelDir, signature: model.signature, options: fixedOptions())
        let second = try ModelBOM.build(directory: model.modelDir, signature: model.signature, options: fixedOptions())
        #expect(first == second)
        let text = String(decoding: first, as: UTF8.self)
        let order = ["\"$schema\"", "\"bomFormat\"", "\"specVersion\"", "\"serialNumber\"", "\"version\"", "\"metadata\"", "\"components\"",
                     "\"dependencies\""].map { text.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil })
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
    }

    @Test("a signature bundle inside the model directory is listed as the signature, not as a model file")
    func signatureInsideDirectory() throws {
        let model = try SignedModel()
        defer { model.remove() }
        let inside = "\(model.modelDir)/model.sig"
        try FileManager.default.copyItem(atPath: model.signature, toPath: inside)
        let bom = try ParsedBOM(ModelBOM.build(directory: model.modelDir, signature: inside, options: fixedOptions()))
        #expect(bom.component(ref: "file:model.sig") == nil)
        #expect(bom.component(ref: "signature:model.sig") != nil)
        #expect(bom.components(type: "file").count == 3)
    }

    @Test("a registered version: signer, scan verdict, stage, datasets by manifest digest, metrics; files checked")
    func registered() throws {
        let model = try SignedModel()
        defer { model.remove() }
        var files: [String: String] = [:]
        for file in ModelLoader.modelFiles {
            files[file] = "sha256:" + sha256Hex(try ReadOnlyFile.readAll("\(model.modelDir)/\(file)", maxBytes: 1 << 24))
        }
        let datasetDigest = "sha256:" + String(repeating: "ab", count: 32)
        var version = RegisteredVersion(
            name: "digits", version: "3", path: model.modelDir, signature: model.signature,
            manifestDigest: "sha256:" + String(repeating: "cd", count: 32), signer: "key:sha256:" + String(repeating: "01", count: 32),
            scanVerdict: "clean", scanReportDigest: "sha256:" + String(repeating: "ef", count: 32), files: files, encryptedFiles: [],
            evaluations: ["accuracy": 0.9375, "epsilon": 3], watermark: "verified", datasets: ["digits-train": datasetDigest],
            stage: .production, createdAt: Date(timeIntervalSince1970: 1_800_000_000), createdBy: "ci")
        let bom = try ParsedBOM(ModelBOM.build(registered: version, options: fixedOptions()))
        let ml = try #require(bom.component(ref: "model:digits@3"))
        #expect(ParsedBOM.property(ml, "mlsec:signer") == version.signer)
        #expect(ParsedBOM.property(ml, "mlsec:scan-verdict") == "clean")
        #expect(ParsedBOM.property(ml, "mlsec:stage") == "production")
        #expect(ParsedBOM.property(ml, "mlsec:watermark") == "verified")
        #expect(ParsedBOM.property(ml, "mlsec:manifest-digest") == version.manifestDigest)
        #expect(ParsedBOM.sha256(ml) == String(repeating: "cd", count: 32))
        let metrics = ml["modelCard"]?["quantitativeAnalysis"]?["performanceMetrics"]?.arrayValue ?? []
        #expect(metrics.map { [$0["type"]?.stringValue, $0["value"]?.stringValue] } == [["accuracy", "0.9375"], ["epsilon", "3"]])
        #expect(ml["modelCard"]?["modelParameters"]?["datasets"]?.arrayValue?.first?["ref"]?.stringValue == "dataset:digits-train")

        let dataset = try #require(bom.component(ref: "dataset:digits-train"))
        #expect(dataset["type"]?.stringValue == "data")
        #expect(ParsedBOM.sha256(dataset) == String(repeating: "ab", count: 32))
        #expect(ParsedBOM.property(dataset, "mlsec:data-manifest-digest") == datasetDigest)
        let signature = try #require(bom.components.first { ParsedBOM.property($0, "mlsec:role") == "signature-bundle" })
        #expect(ParsedBOM.property(signature, "mlsec:signer") == version.signer)
        let edges = bom.json["dependencies"]?.arrayValue?.first { $0["ref"]?.stringValue == "model:digits@3" }?["dependsOn"]?.arrayValue
        #expect(edges?.compactMap(\.stringValue) == ["file:model.json", "file:weights.safetensors", "dataset:digits-train"])

        // A file changed since registration is refused, naming it.
        version.files[ModelStore.weightsFile] = "sha256:" + String(repeating: "00", count: 32)
        let error = try #require(throws: MLSecError.self) { try ModelBOM.build(registered: version, options: fixedOptions()) }
        #expect(error.code == .verificationFailed && error.message.contains(ModelStore.weightsFile))
    }

    @Test("a registered version whose directory is gone: the BOM comes from the registry's record")
    func registeredWithoutDirectory() throws {
        let version = RegisteredVersion(
            name: "digits", version: "4", path: "/nonexistent/mlsec-model", signature: "/nonexistent/model.sig",
            manifestDigest: "sha256:" + String(repeating: "cd", count: 32), signer: "key:sha256:00", scanVerdict: "clean",
            scanReportDigest: "", files: ["weights.safetensors.age": "sha256:" + String(repeating: "11", count: 32),
                                          "model.json": "sha256:" + String(repeating: "22", count: 32)],
            encryptedFiles: ["weights.safetensors"], createdAt: Date(), createdBy: "ci")
        let bom = try ParsedBOM(ModelBOM.build(registered: version, options: fixedOptions()))
        #expect(ParsedBOM.sha256(bom.component(ref: "file:weights.safetensors.age")) == String(repeating: "11", count: 32))
        #expect(ParsedBOM.property(bom.component(ref: "model:digits@4"), "mlsec:encrypted-at-rest") == "weights.safetensors.age")
    }

    @Test("an encrypted model: the .age files as they lie on disk; no architecture without the plaintext")
    func encrypted() throws {
        let identity = AgeX25519Identity.generate()
        let model = try SignedModel(encrypt: identity)
        defer { model.remove() }
        let bom = try ParsedBOM(ModelBOM.build(directory: model.modelDir, options: fixedOptions()))
        for file in ModelLoader.modelFiles {
            let sealed = try ReadOnlyFile.readAll("\(model.modelDir)/\(file).age", maxBytes: 1 << 24)
            #expect(ParsedBOM.sha256(bom.component(ref: "file:\(file).age")) == sha256Hex(sealed))
            #expect(ParsedBOM.property(bom.component(ref: "file:\(file).age"), "mlsec:encryption") == "age")
        }
        let ml = try #require(bom.components(type: "machine-learning-model").first)
        #expect(ParsedBOM.property(ml, "mlsec:encrypted-at-rest") == "model.json.age,weights.safetensors.age")
        #expect(ml["modelCard"]?["modelParameters"]?["modelArchitecture"] == nil)
    }

    @Test("hostile directories are refused with the file and the problem named")
    func hostile() throws {
        let model = try SignedModel()
        defer { model.remove() }
        let spec = "\(model.modelDir)/\(ModelStore.specFile)"
        let weights = "\(model.modelDir)/\(ModelStore.weightsFile)"
        let goodSpec = try ReadOnlyFile.readAll(spec, maxBytes: 1 << 20)
        let goodWeights = try ReadOnlyFile.readAll(weights, maxBytes: 1 << 24)

        try AtomicFile.write(Array("{\"format\": \"mlsec.model/1\", \"layers\": [".utf8), to: spec)
        var error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: model.modelDir) }
        #expect(error.code == .malformed && error.message.contains(spec))

        try AtomicFile.write(Array("{\"format\": \"mlsec.model/1\", \"input\": 7}".utf8), to: spec)
        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: model.modelDir) }
        #expect(error.message.contains(spec))

        try AtomicFile.write(goodSpec, to: spec)
        try AtomicFile.write(Array(goodWeights.prefix(goodWeights.count / 2)), to: weights)
        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: model.modelDir) }
        #expect(error.code == .malformed && error.message.contains(weights))

        try AtomicFile.write([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], to: weights)
        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: model.modelDir) }
        #expect(error.message.contains(weights))

        try AtomicFile.write(goodWeights, to: weights)
        var options = ModelBOM.Options()
        options.limits.maxModelBytes = Int64(goodWeights.count)
        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: model.modelDir, options: options) }
        #expect(error.code == .limitExceeded)

        try FileManager.default.createSymbolicLink(atPath: "\(model.modelDir)/link", withDestinationPath: "/etc/passwd")
        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: model.modelDir) }
        #expect(error.message.contains("link"))

        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: weights) }
        #expect(error.code == .usage)
        error = try #require(throws: MLSecError.self) { try ModelBOM.build(directory: "\(model.directory)/missing") }
        #expect(error.code == .io)
    }
}
