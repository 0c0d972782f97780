// RobustnessData: the labelled rows the robustness commands attack, certify or calibrate on, checked against the model.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness

extension Norm: ExpressibleByArgument {}

/// A data set's rows and labels, checked against a model's input size and classes.
struct LabelledRows {
    var dataset: Dataset
    var rows: [Float] { dataset.features }
    var labels: [Int]
    var count: Int { dataset.count }

    /// Loads `--data` with its `--label-column`; warns about values outside the model's declared input range
    /// (attacks clip to it, so such rows change before any attack).
    init(data: String, labelColumn: String, model: Model, requireLabels: Bool = true) throws {
        dataset = try loadDataset(data, labelColumn: labelColumn)
        guard dataset.featureCount == model.inputSize else {
            throw MLSecError.malformed("\(data) has \(dataset.featureCount) feature columns, the model takes \(model.inputSize)")
        }
        guard let labels = dataset.labels else { throw MLSecError.usage("--label-column is needed: attacks and certificates are scored against the labels") }
        for (i, l) in labels.enumerated() where l >= model.classCount {
            throw MLSecError.malformed("\(data) row \(i + 1): label \(l) is not one of the model's \(model.classCount) classes")
        }
        self.labels = labels
        let range = try InputRange(spec: model.spec)
        if range.isBounded, let outside = dataset.features.firstIndex(where: { $0 < range.lower || $0 > range.upper }) {
            Terminal.warning("\(data) row \(outside / model.inputSize + 1) has a value outside the model's input range "
                + "[\(range.lower), \(range.upper)]; attacks clip every value into that range")
        }
    }

    /// Writes `adversarial` rows as CSV with the data's header, the label column last.
    func writeCSV(_ adversarial: [Float], labelColumn: String, to path: String) throws {
        // Bytes appended directly: building a String per row through map and joined cost twice the attack itself.
        var bytes = Array(((dataset.featureNames + [labelColumn]).joined(separator: ",") + "\n").utf8)
        let width = dataset.featureCount
        bytes.reserveCapacity(bytes.count + count * (width * 10 + 4))
        for r in 0..<count {
            for v in adversarial[r * width..<(r + 1) * width] {
                bytes.append(contentsOf: v.description.utf8)
                bytes.append(UInt8(ascii: ","))
            }
            bytes.append(contentsOf: String(labels[r]).utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(bytes, to: path)
    }
}

/// A number with six decimals for the robustness commands' JSON.
func decimal(_ v: Double) -> JSONValue { v.isFinite ? .number(String(format: "%.6f", v)) : .null }
