// ModelSpec: the `model.json` description of a model (format mlsec.model/1), read strictly and written back.

import MLSecCore

/// A tensor declared in model.json (`input` or `output`).
public struct TensorSpec: Sendable, Equatable {
    public var name: String
    public var datatype: String
    /// Shape with `-1` for the batch dimension.
    public var shape: [Int]
    /// Valid input range (inputs only).
    public var min: Float?
    public var max: Float?

    public init(name: String, datatype: String = "FP32", shape: [Int], min: Float? = nil, max: Float? = nil) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.min = min
        self.max = max
    }

    /// Shape without the batch dimension.
    public var featureShape: [Int] { Array(shape.dropFirst()) }
}

/// One entry of `layers`, with the sizes used to initialise new weights.
public struct LayerSpec: Sendable, Equatable {
    public var layer: Layer
    /// Dense: number of outputs; conv2d: number of output channels.
    public var outputs: Int?
    /// Conv2d: square kernel size.
    public var kernelSize: Int?

    public init(_ layer: Layer, outputs: Int? = nil, kernelSize: Int? = nil) {
        self.layer = layer
        self.outputs = outputs
        self.kernelSize = kernelSize
    }
}

/// The parsed model.json.
public struct ModelSpec: Sendable, Equatable {
    public static let format = "mlsec.model/1"
    public static let maxLayers = 256

    public var name: String
    public var input: TensorSpec
    public var output: TensorSpec
    public var layers: [LayerSpec]

    public init(name: String, input: TensorSpec, output: TensorSpec, layers: [LayerSpec]) {
        self.name = name
        self.input = input
        self.output = output
        self.layers = layers
    }

    /// Parses model.json bytes. `context` names the file in errors.
    public init(json bytes: [UInt8], context: String = "model.json") throws {
        let json = try JSONParser(limits: .init(maxDepth: 16, maxStringBytes: 4096, maxContainerCount: 4096))
            .parse(bytes, context: context)
        guard json["format"]?.stringValue == ModelSpec.format else {
            throw MLSecError.unsupported("\(context): \"format\" must be \"\(ModelSpec.format)\"")
        }
        name = json["name"]?.stringValue ?? "model"
        guard let inputJSON = json["input"] else { throw MLSecError.malformed("\(context): \"input\" is missing") }
        guard let outputJSON = json["output"] else { throw MLSecError.malformed("\(context): \"output\" is missing") }
        input = try ModelSpec.tensorSpec(inputJSON, context: "\(context): input")
        output = try ModelSpec.tensorSpec(outputJSON, context: "\(context): output")
        guard let list = json["layers"]?.arrayValue, !list.isEmpty, list.count <= ModelSpec.maxLayers else {
            throw MLSecError.malformed("\(context): \"layers\" must be a list of 1 to \(ModelSpec.maxLayers) layers")
        }
        layers = try list.enumerated().map { try ModelSpec.layerSpec($1, context: "\(context): layer \($0)") }
    }

    private static func int(_ value: JSONValue?, _ what: String, context: String, default def: Int? = nil,
                            range: ClosedRange<Int> = 1...1 << 20) throws -> Int? {
        guard let value else { return def }
        guard let v = value.integerValue, range.contains(v) else {
            throw MLSecError.malformed("\(context): \"\(what)\" must be an integer in \(range)")
        }
        return v
    }

    private static func tensorSpec(_ json: JSONValue, context: String) throws -> TensorSpec {
        guard let name = json["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 256 else {
            throw MLSecError.malformed("\(context): \"name\" is missing")
        }
        let datatype = json["datatype"]?.stringValue ?? "FP32"
        guard datatype == "FP32" else { throw MLSecError.unsupported("\(context): datatype \(datatype) (only FP32)") }
        guard let dims = json["shape"]?.arrayValue, (2...5).contains(dims.count) else {
            throw MLSecError.malformed("\(context): \"shape\" must list 2 to 5 dimensions, the first -1 (batch)")
        }
        var shape: [Int] = []
        for (i, d) in dims.enumerated() {
            guard let v = d.integerValue, i == 0 ? (v == -1 || v >= 1) : (1...1 << 20).contains(v) else {
                throw MLSecError.malformed("\(context): shape dimension \(i) is invalid")
            }
            shape.append(v)
        }
        shape[0] = -1
        func float(_ key: String) throws -> Float? {
            guard let v = json[key] else { return nil }
            guard case .number(let text) = v, let f = Float(text), f.isFinite else {
                throw MLSecError.malformed("\(context): \"\(key)\" must be a finite number")
            }
            return f
        }
        let min = try float("min"), max = try float("max")
        if let min, let max, min > max { throw MLSecError.malformed("\(context): min is greater than max") }
        return TensorSpec(name: name, datatype: datatype, shape: shape, min: min, max: max)
    }

    private static func layerSpec(_ json: JSONValue, context: String) throws -> LayerSpec {
        guard let type = json["type"]?.stringValue else { throw MLSecError.malformed("\(context): \"type\" is missing") }
        func name(_ key: String, required: Bool) throws -> String? {
            guard let v = json[key] else {
                if required { throw MLSecError.malformed("\(context): \"\(key)\" is missing") }
                return nil
            }
            guard let s = v.stringValue, !s.isEmpty, s.utf8.count <= 256 else {
                throw MLSecError.malformed("\(context): \"\(key)\" must be a tensor name")
            }
            return s
        }
        switch type {
        case "dense", "linear":
            return LayerSpec(.dense(weight: try name("weight", required: true) ?? "", bias: try name("bias", required: false)),
                             outputs: try int(json["out_features"], "out_features", context: context))
        case "relu": return LayerSpec(.relu)
        case "tanh": return LayerSpec(.tanh)
        case "sigmoid": return LayerSpec(.sigmoid)
        case "softmax": return LayerSpec(.softmax)
        case "flatten": return LayerSpec(.flatten)
        case "conv2d":
            let stride = try int(json["stride"], "stride", context: context, default: 1, range: 1...64) ?? 1
            let padding = try int(json["padding"], "padding", context: context, default: 0, range: 0...64) ?? 0
            return LayerSpec(
                .conv2d(weight: try name("weight", required: true) ?? "", bias: try name("bias", required: false),
                        stride: stride, padding: padding),
                outputs: try int(json["out_channels"], "out_channels", context: context),
                kernelSize: try int(json["kernel_size"], "kernel_size", context: context, range: 1...64))
        case "maxpool2d", "avgpool2d":
            guard let k = try int(json["kernel_size"], "kernel_size", context: context, range: 1...64) else {
                throw MLSecError.malformed("\(context): \"kernel_size\" is missing")
            }
            let s = try int(json["stride"], "stride", context: context, default: k, range: 1...64) ?? k
            return LayerSpec(type == "maxpool2d" ? .maxPool2d(kernel: k, stride: s) : .avgPool2d(kernel: k, stride: s))
        default:
            throw MLSecError.unsupported("\(context): unknown layer type \"\(type.prefix(64))\"")
        }
    }

    /// model.json as written by MLSec (fixed key order).
    public var json: JSONValue {
        func tensor(_ t: TensorSpec) -> JSONValue {
            var m: [(String, JSONValue)] = [("name", .string(t.name)), ("datatype", .string(t.datatype)),
                                            ("shape", .array(t.shape.map { .int($0) }))]
            if let min = t.min { m.append(("min", .number(ModelSpec.number(min)))) }
            if let max = t.max { m.append(("max", .number(ModelSpec.number(max)))) }
            return .object(m)
        }
        let layerJSON: [JSONValue] = layers.map { spec in
            var m: [(String, JSONValue)] = [("type", .string(spec.layer.typeName))]
            switch spec.layer {
            case .dense(let w, let b):
                m.append(("weight", .string(w)))
                if let b { m.append(("bias", .string(b))) }
                if let o = spec.outputs { m.append(("out_features", .int(o))) }
            case .conv2d(let w, let b, let stride, let padding):
                m.append(("weight", .string(w)))
                if let b { m.append(("bias", .string(b))) }
                if let o = spec.outputs { m.append(("out_channels", .int(o))) }
                if let k = spec.kernelSize { m.append(("kernel_size", .int(k))) }
                m.append(("stride", .int(stride)))
                m.append(("padding", .int(padding)))
            case .maxPool2d(let k, let s), .avgPool2d(let k, let s):
                m.append(("kernel_size", .int(k)))
                m.append(("stride", .int(s)))
            default: break
            }
            return .object(m)
        }
        return .object([
            ("format", .string(ModelSpec.format)), ("name", .string(name)), ("input", tensor(input)),
            ("output", tensor(output)), ("layers", .array(layerJSON)),
        ])
    }

    static func number(_ f: Float) -> String {
        f == f.rounded() && abs(f) < 1e9 ? String(Int(f)) : "\(f)"
    }
}
