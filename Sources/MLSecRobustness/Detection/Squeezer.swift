// Squeezer: the input transformations of feature squeezing (Xu, Evans and Qi 2018): bit-depth reduction and
// median smoothing over the image plane.

import MLSecCore

/// One way of squeezing an input: fewer distinct values, or a median filter over each image channel.
public enum Squeezer: Sendable, Equatable {
    /// Rounds each value to one of `levels` evenly spaced levels across the input range (bit-depth reduction
    /// to b bits is 2^b levels; any count from 2 is allowed).
    case quantize(levels: Int)
    /// A `window` × `window` median filter over each `height` × `width` channel (SciPy's `median_filter`:
    /// the window covers offsets −window/2 ... (window−1)/2, reflected at the borders, rank window²/2).
    case median(window: Int, channels: Int, height: Int, width: Int)

    /// The squeezed copy of `rows` (each row `width` values).
    public func apply(_ rows: [Float], range: InputRange) -> [Float] {
        switch self {
        case .quantize(let count):
            guard range.isBounded else { return rows }
            let levels = Float(count - 1)
            return rows.map { v in
                let unit = (range.clip(v) - range.lower) / range.width
                return range.lower + (unit * levels).rounded() / levels * range.width
            }
        case .median(let window, let channels, let height, let width):
            let plane = height * width, size = channels * plane
            guard size > 0, rows.count % size == 0 else { return rows }
            var out = rows
            var patch = [Float](repeating: 0, count: window * window)
            let before = window / 2
            func reflect(_ i: Int, _ n: Int) -> Int {
                // SciPy's "reflect" mode: (d c b a | a b c d | d c b a).
                var i = i
                while i < 0 || i >= n { i = i < 0 ? -i - 1 : 2 * n - i - 1 }
                return i
            }
            for base in stride(from: 0, to: rows.count, by: plane) {
                for y in 0..<height {
                    for x in 0..<width {
                        var k = 0
                        for dy in 0..<window {
                            let yy = reflect(y + dy - before, height)
                            for dx in 0..<window {
                                patch[k] = rows[base + yy * width + reflect(x + dx - before, width)]
                                k += 1
                            }
                        }
                        patch.sort()
                        out[base + y * width + x] = patch[patch.count / 2]
                    }
                }
            }
            return out
        }
    }

    public var json: JSONValue {
        switch self {
        case .quantize(let levels): return .object([("type", .string("quantize")), ("levels", .int(levels))])
        case .median(let window, let channels, let height, let width):
            return .object([("type", .string("median")), ("window", .int(window)), ("channels", .int(channels)),
                            ("height", .int(height)), ("width", .int(width))])
        }
    }

    init(json: JSONValue, context: String) throws {
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = json[key]?.integerValue, range.contains(v) else {
                throw MLSecError.malformed("\(context): squeezer \"\(key)\" must be an integer in \(range)")
            }
            return v
        }
        switch json["type"]?.stringValue {
        case "quantize": self = .quantize(levels: try int("levels", 2...65536))
        case "median":
            self = .median(window: try int("window", 2...16), channels: try int("channels", 1...4096),
                           height: try int("height", 1...65536), width: try int("width", 1...65536))
        default: throw MLSecError.malformed("\(context): a squeezer's \"type\" must be \"quantize\" or \"median\"")
        }
    }

    /// The image layout of a model input: [C, H, W] or [H, W] as declared, or a flat input whose size is a
    /// perfect square (an 8 × 8 digit is 64 values); nil when the input is not an image.
    public static func imageShape(featureShape: [Int]) -> (channels: Int, height: Int, width: Int)? {
        switch featureShape.count {
        case 3: return (featureShape[0], featureShape[1], featureShape[2])
        case 2: return (1, featureShape[0], featureShape[1])
        case 1:
            let n = featureShape[0]
            let side = Int(Double(n).squareRoot().rounded())
            return side >= 4 && side * side == n ? (1, side, side) : nil
        default: return nil
        }
    }
}
