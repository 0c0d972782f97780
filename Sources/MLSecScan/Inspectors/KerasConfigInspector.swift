// KerasConfigInspector: finds Lambda layers and function references in Keras model configs (.keras and .h5).

import MLSecCore
import MLSecFormats

/// Inspects a Keras model configuration (JSON).
struct KerasConfigInspector {
    /// Modules whose functions a Keras config may reference (built-in activations, losses, initialisers).
    static let trustedModules = ["keras", "keras.src", "tensorflow", "tf_keras", "keras.layers", "keras.activations"]

    func inspect(jsonBytes: [UInt8], location: String?, findings: inout [Finding]) {
        let json: JSONValue
        do {
            json = try JSONParser(limits: .init(maxDepth: 512, maxStringBytes: 64 << 20, maxContainerCount: 1 << 20))
                .parse(jsonBytes, context: "Keras config")
        } catch let error as MLSecError {
            findings.append(Finding(.high, rule: "keras-lambda", message: "the model config is not valid JSON: \(error.message)",
                                    location: location, class: .malformed))
            return
        } catch {
            return
        }
        walk(json, path: "config", location: location, findings: &findings, depth: 0)
    }

    private func walk(_ value: JSONValue, path: String, location: String?, findings: inout [Finding], depth: Int) {
        guard depth < 512 else { return }
        switch value {
        case .object(let members):
            let className = value["class_name"]?.stringValue
            let module = value["module"]?.stringValue
            let name = value["config"]?["name"]?.stringValue ?? value["name"]?.stringValue
            if className == "Lambda" || className == "TFOpLambda" && module.map({ !trusted($0) }) == true {
                findings.append(Finding(.critical, rule: "keras-lambda",
                                        message: "\(className ?? "Lambda") layer \(name.map { "\"\($0)\" " } ?? "")runs serialized Python code when the model loads",
                                        location: join(location, path)))
            } else if className == "__lambda__" || (className == "function" && module.map({ !trusted($0) }) ?? true) {
                findings.append(Finding(.high, rule: "keras-lambda",
                                        message: "reference to the function \(module.map { "\($0)." } ?? "")\(value["config"]?.stringValue ?? name ?? "?"), which Keras imports and calls",
                                        location: join(location, path)))
            }
            for (key, member) in members {
                walk(member, path: path + "." + key, location: location, findings: &findings, depth: depth + 1)
            }
        case .array(let items):
            for (i, item) in items.enumerated() {
                walk(item, path: "\(path)[\(i)]", location: location, findings: &findings, depth: depth + 1)
            }
        default:
            break
        }
    }

    private func trusted(_ module: String) -> Bool {
        Self.trustedModules.contains { module == $0 || module.hasPrefix($0 + ".") }
    }

    private func join(_ location: String?, _ path: String) -> String { location.map { "\($0):\(path)" } ?? path }
}

/// Finds the Keras `model_config` JSON inside an HDF5 file without a full HDF5 reader: it looks for the
/// serialized config object (`{"class_name": ...`) and parses it with the strict JSON parser.
struct HDF5Probe {
    static let maxConfigBytes = 64 << 20

    func inspect(_ source: ModelScanner.Source, location: String?, findings: inout [Finding]) throws {
        var cursor = try ByteCursor(source)
        let needle = Array(#"{"class_name""#.utf8)
        var carry: [UInt8] = []
        var configs = 0
        while cursor.remaining > 0 || !carry.isEmpty {
            let chunk = cursor.remaining > 0 ? try cursor.take(min(1 << 20, cursor.remaining), "HDF5 data") : []
            var window = carry + chunk
            carry = []
            if chunk.isEmpty && window.isEmpty { break }
            var searchFrom = 0
            while let start = firstIndex(of: needle, in: window, from: searchFrom) {
                // Gather bytes until the braces balance (string-aware), reading more of the file as needed.
                var end: Int? = balancedEnd(window, from: start)
                while end == nil, cursor.remaining > 0, window.count - start < Self.maxConfigBytes {
                    window += try cursor.take(min(1 << 20, cursor.remaining), "HDF5 data")
                    end = balancedEnd(window, from: start)
                }
                guard let stop = end else {
                    if window.count - start >= Self.maxConfigBytes {
                        findings.append(Finding(.medium, rule: "scan-limit", message: "a model config larger than \(Self.maxConfigBytes) bytes was not parsed",
                                                location: location))
                    }
                    break
                }
                configs += 1
                KerasConfigInspector().inspect(jsonBytes: Array(window[start...stop]), location: location ?? "model_config",
                                               findings: &findings)
                searchFrom = stop + 1
                guard configs < 16 else { return }
            }
            if !chunk.isEmpty { carry = Array(window.suffix(needle.count - 1)) }
            if cursor.remaining == 0 { break }
        }
    }

    func firstIndex(of needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == needle[0], Array(hay[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Index of the `}` closing the object that starts at `start`, or nil when not yet complete.
    func balancedEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var inString = false
        var escaped = false
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == 0x5c { escaped = true } else if b == 0x22 { inString = false }
            } else if b == 0x22 {
                inString = true
            } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                depth += 1
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }
}
