// Convolution: 2-D convolution (NCHW, PyTorch weight layout) by im2col and GEMM, forward and backward.

/// A 2-D convolution bound to its parameters and input shape.
struct Convolution {
    let weight: Tensor  // [O, C, kh, kw]
    let bias: Tensor?
    let stride: Int
    let padding: Int
    let channels: Int, height: Int, width: Int
    let outChannels: Int, kh: Int, kw: Int, outHeight: Int, outWidth: Int

    init(weight: Tensor, bias: Tensor?, stride: Int, padding: Int, input shape: [Int]) {
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        channels = shape[1]; height = shape[2]; width = shape[3]
        outChannels = weight.shape[0]; kh = weight.shape[2]; kw = weight.shape[3]
        outHeight = (height + 2 * padding - kh) / stride + 1
        outWidth = (width + 2 * padding - kw) / stride + 1
    }

    var patchSize: Int { channels * kh * kw }
    var outPlane: Int { outHeight * outWidth }

    /// cols[(c*kh+i)*kw+j, oy*outWidth+ox] = x[c, oy*s+i-p, ox*s+j-p] (0 outside).
    func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = ((c * kh + i) * kw + j) * outPlane
                    for oy in 0..<outHeight {
                        let y = oy * stride + i - padding
                        for ox in 0..<outWidth {
                            let xx = ox * stride + j - padding
                            cols[row + oy * outWidth + ox] =
                                (y >= 0 && y < height && xx >= 0 && xx < width) ? x[(c * height + y) * width + xx] : 0
                        }
                    }
                }
            }
        }
    }

    /// Adds cols back into the image gradient (the adjoint of im2col).
    func col2im(_ cols: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = ((c * kh + i) * kw + j) * outPlane
                    for oy in 0..<outHeight {
                        let y = oy * stride + i - padding
                        guard y >= 0 && y < height else { continue }
                        for ox in 0..<outWidth {
                            let xx = ox * stride + j - padding
                            if xx >= 0 && xx < width { dx[(c * height + y) * width + xx] += cols[row + oy * outWidth + ox] }
                        }
                    }
                }
            }
        }
    }

    func forward(_ x: Tensor) -> Tensor {
        let n = x.batch
        let inSize = channels * height * width, outSize = outChannels * outPlane
        var y = [Float](repeating: 0, count: n * outSize)
        var cols = [Float](repeating: 0, count: patchSize * outPlane)
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        for s in 0..<n {
                            im2col(xp.baseAddress! + s * inSize, into: cp.baseAddress!)
                            let out = yp.baseAddress! + s * outSize
                            if let bias {
                                for o in 0..<outChannels { for q in 0..<outPlane { out[o * outPlane + q] = bias.data[o] } }
                            }
                            GEMM.sgemm(transposeA: false, transposeB: false, m: outChannels, n: outPlane, k: patchSize,
                                       alpha: 1, a: wp.baseAddress!, lda: patchSize, b: cp.baseAddress!, ldb: outPlane,
                                       beta: bias == nil ? 0 : 1, c: out, ldc: outPlane, threads: 1)
                        }
                    }
                }
            }
        }
        return Tensor(uncheckedShape: [n, outChannels, outHeight, outWidth], data: y)
    }

    /// Gradients for a batch. `weightGrad`/`biasGrad` receive the batch sum, or with `perExample` one
    /// block per example (example-major). Returns the input gradient.
    func backward(_ x: Tensor, gradOutput dy: Tensor, perExample: Bool,
                  weightGrad: inout [Float], biasGrad: inout [Float]) -> Tensor {
        let n = x.batch
        let inSize = channels * height * width, outSize = outChannels * outPlane
        let wCount = weight.count
        var dx = [Float](repeating: 0, count: n * inSize)
        var cols = [Float](repeating: 0, count: patchSize * outPlane)
        var dcols = [Float](repeating: 0, count: patchSize * outPlane)
        x.data.withUnsafeBufferPointer { xp in
            dy.data.withUnsafeBufferPointer { dyp in
                weight.data.withUnsafeBufferPointer { wp in
                    weightGrad.withUnsafeMutableBufferPointer { gw in
                        cols.withUnsafeMutableBufferPointer { cp in
                            dcols.withUnsafeMutableBufferPointer { dcp in
                                dx.withUnsafeMutableBufferPointer { dxp in
                                    for s in 0..<n {
                                        let g = dyp.baseAddress! + s * outSize
                                        im2col(xp.baseAddress! + s * inSize, into: cp.baseAddress!)
                                        let target = gw.baseAddress! + (perExample ? s * wCount : 0)
                                        GEMM.sgemm(transposeA: false, transposeB: true, m: outChannels, n: patchSize,
                                                   k: outPlane, alpha: 1, a: g, lda: outPlane, b: cp.baseAddress!,
                                                   ldb: outPlane, beta: 1, c: target, ldc: patchSize, threads: 1)
                                        GEMM.sgemm(transposeA: true, transposeB: false, m: patchSize, n: outPlane,
                                                   k: outChannels, alpha: 1, a: wp.baseAddress!, lda: patchSize, b: g,
                                                   ldb: outPlane, beta: 0, c: dcp.baseAddress!, ldc: outPlane, threads: 1)
                                        col2im(dcp.baseAddress!, into: dxp.baseAddress! + s * inSize)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if bias != nil {
            for s in 0..<n {
                let base = perExample ? s * outChannels : 0
                for o in 0..<outChannels {
                    var sum: Float = 0
                    for q in 0..<outPlane { sum += dy.data[s * outSize + o * outPlane + q] }
                    biasGrad[base + o] += sum
                }
            }
        }
        return Tensor(uncheckedShape: x.shape, data: dx)
    }
}
