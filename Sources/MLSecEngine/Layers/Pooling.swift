// Pooling: max and average 2-D pooling (NCHW, no padding), forward and backward.

/// A pooling window bound to its input shape.
struct Pooling {
    let kernel: Int, stride: Int
    let channels: Int, height: Int, width: Int
    let outHeight: Int, outWidth: Int

    init(kernel: Int, stride: Int, input shape: [Int]) {
        self.kernel = kernel
        self.stride = stride
        channels = shape[1]; height = shape[2]; width = shape[3]
        outHeight = (height - kernel) / stride + 1
        outWidth = (width - kernel) / stride + 1
    }

    func forwardMax(_ x: Tensor, indices: inout [Int32]) -> Tensor {
        let n = x.batch, planes = n * channels
        var y = [Float](repeating: 0, count: planes * outHeight * outWidth)
        indices = [Int32](repeating: 0, count: y.count)
        for p in 0..<planes {
            let inBase = p * height * width, outBase = p * outHeight * outWidth
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var best = -Float.infinity
                    var bestIndex = inBase + oy * stride * width + ox * stride
                    for i in 0..<kernel {
                        for j in 0..<kernel {
                            let idx = inBase + (oy * stride + i) * width + ox * stride + j
                            if x.data[idx] > best {
                                best = x.data[idx]
                                bestIndex = idx
                            }
                        }
                    }
                    y[outBase + oy * outWidth + ox] = best
                    indices[outBase + oy * outWidth + ox] = Int32(truncatingIfNeeded: bestIndex)
                }
            }
        }
        return Tensor(uncheckedShape: [n, channels, outHeight, outWidth], data: y)
    }

    func backwardMax(_ dy: Tensor, indices: [Int32], inputShape: [Int]) -> Tensor {
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        for (k, idx) in indices.enumerated() { dx[Int(idx)] += dy.data[k] }
        return Tensor(uncheckedShape: inputShape, data: dx)
    }

    func forwardAverage(_ x: Tensor) -> Tensor {
        let n = x.batch, planes = n * channels
        let scale = 1 / Float(kernel * kernel)
        var y = [Float](repeating: 0, count: planes * outHeight * outWidth)
        for p in 0..<planes {
            let inBase = p * height * width, outBase = p * outHeight * outWidth
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var sum: Float = 0
                    for i in 0..<kernel {
                        for j in 0..<kernel { sum += x.data[inBase + (oy * stride + i) * width + ox * stride + j] }
                    }
                    y[outBase + oy * outWidth + ox] = sum * scale
                }
            }
        }
        return Tensor(uncheckedShape: [n, channels, outHeight, outWidth], data: y)
    }

    func backwardAverage(_ dy: Tensor, inputShape: [Int]) -> Tensor {
        let planes = inputShape[0] * channels
        let scale = 1 / Float(kernel * kernel)
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        for p in 0..<planes {
            let inBase = p * height * width, outBase = p * outHeight * outWidth
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    let g = dy.data[outBase + oy * outWidth + ox] * scale
                    for i in 0..<kernel {
                        for j in 0..<kernel { dx[inBase + (oy * stride + i) * width + ox * stride + j] += g }
                    }
                }
            }
        }
        return Tensor(uncheckedShape: inputShape, data: dx)
    }
}
