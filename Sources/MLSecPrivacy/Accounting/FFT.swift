// FFT: a radix-2 complex fast Fourier transform in pure Swift (two stages per pass), a real-input transform on
// top of it, and the two convolutions the PLD accountant needs.

import Foundation

/// Radix-2 FFTs on split real/imaginary arrays whose length is a power of two.
///
/// The twiddle table holds, for every stage span s (1, 2, 4, …, size/2), the factors e^{−iπj/s} for j < s at
/// index s + j, so that each stage reads its factors contiguously; every factor comes from one cos/sin call of
/// the largest stage (no recurrence, so no accumulated rounding). Two radix-2 stages are fused per pass over the
/// data, halving the memory traffic, which is what bounds a transform of millions of points.
package struct FFT {
    /// The largest complex transform length; real transforms of `size` points use complex ones of size/2.
    package let size: Int
    private let cosines: [Double]
    private let sines: [Double]

    package init(size: Int) {
        precondition(size >= 1 && size & (size - 1) == 0, "FFT size must be a power of two")
        self.size = size
        var cosines = [Double](repeating: 1, count: max(size, 2))
        var sines = [Double](repeating: 0, count: max(size, 2))
        let half = size / 2
        if half >= 1 {
            // e^{−iπj/half} for j < half: cos/sin on the first octant [0, π/4], the rest by the exact symmetries
            // cos(π/2 − θ) = sin θ and cos(π − θ) = −cos θ.
            let quarter = half / 2, eighth = half / 4
            for j in 0..<half {
                let c: Double, s: Double
                if half < 8 {
                    let angle = Double.pi * Double(j) / Double(half)
                    (c, s) = (cos(angle), sin(angle))
                } else if j <= eighth {
                    let angle = Double.pi * Double(j) / Double(half)
                    (c, s) = (cos(angle), sin(angle))
                } else if j <= quarter {
                    let angle = Double.pi * Double(quarter - j) / Double(half)
                    (c, s) = (sin(angle), cos(angle))
                } else {
                    (c, s) = (-cosines[half + half - j], -sines[half + half - j])
                }
                cosines[half + j] = c
                sines[half + j] = -s
            }
            var span = half / 2
            while span >= 1 {
                let ratio = half / span
                for j in 0..<span {
                    cosines[span + j] = cosines[half + j * ratio]
                    sines[span + j] = sines[half + j * ratio]
                }
                span /= 2
            }
        }
        self.cosines = cosines
        self.sines = sines
    }

    /// The smallest power of two ≥ n.
    package static func length(atLeast n: Int) -> Int {
        var length = 1
        while length < n { length <<= 1 }
        return length
    }

    /// The complex DFT of the first `n` points (n a power of two ≤ size) in place:
    /// X[k] = Σ x[j]·e^{∓2πijk/n}, divided by n when `inverse`.
    package func complexTransform(_ re: UnsafeMutableBufferPointer<Double>, _ im: UnsafeMutableBufferPointer<Double>,
                          count n: Int, inverse: Bool) {
        precondition(n <= size && n & (n - 1) == 0)
        guard n > 1 else { return }
        Self.bitReverse(re, im, n)
        let sign: Double = inverse ? -1 : 1
        cosines.withUnsafeBufferPointer { cs in
            sines.withUnsafeBufferPointer { sn in
                var span = 1
                while span < n {
                    if 2 * span < n {
                        // Stages of span s and 2s together, on quadruples (a, a+s, a+2s, a+3s).
                        let s = span
                        var start = 0
                        while start < n {
                            for j in 0..<s {
                                let a = start + j, b = a + s, c = b + s, d = c + s
                                let w1r = cs[s + j], w1i = sign * sn[s + j]
                                var tr = w1r * re[b] - w1i * im[b], ti = w1r * im[b] + w1i * re[b]
                                var ar = re[a] + tr, ai = im[a] + ti
                                var br = re[a] - tr, bi = im[a] - ti
                                tr = w1r * re[d] - w1i * im[d]
                                ti = w1r * im[d] + w1i * re[d]
                                let cr = re[c] + tr, ci = im[c] + ti
                                let dr = re[c] - tr, di = im[c] - ti
                                let w2r = cs[2 * s + j], w2i = sign * sn[2 * s + j]
                                let w3r = cs[3 * s + j], w3i = sign * sn[3 * s + j]
                                tr = w2r * cr - w2i * ci
                                ti = w2r * ci + w2i * cr
                                re[c] = ar - tr
                                im[c] = ai - ti
                                ar += tr
                                ai += ti
                                re[a] = ar
                                im[a] = ai
                                tr = w3r * dr - w3i * di
                                ti = w3r * di + w3i * dr
                                re[d] = br - tr
                                im[d] = bi - ti
                                br += tr
                                bi += ti
                                re[b] = br
                                im[b] = bi
                            }
                            start += 4 * s
                        }
                        span *= 4
                    } else {
                        let s = span
                        var start = 0
                        while start < n {
                            for j in 0..<s {
                                let a = start + j, b = a + s
                                let wr = cs[s + j], wi = sign * sn[s + j]
                                let tr = wr * re[b] - wi * im[b], ti = wr * im[b] + wi * re[b]
                                re[b] = re[a] - tr
                                im[b] = im[a] - ti
                                re[a] += tr
                                im[a] += ti
                            }
                            start += 2 * s
                        }
                        span *= 2
                    }
                }
            }
        }
        if inverse {
            let scale = 1 / Double(n)
            for index in 0..<n {
                re[index] *= scale
                im[index] *= scale
            }
        }
    }

    /// The spectrum X[0…size/2] of a real sequence of `size` points, through a complex transform of size/2:
    /// z = x_even + i·x_odd, X[k] = ½(Z[k] + Z̄[M−k]) − ½i·e^{−2πik/N}(Z[k] − Z̄[M−k]).
    package func realForward(_ signal: [Double]) -> (real: [Double], imaginary: [Double]) {
        precondition(signal.count <= size && size >= 4)
        let m = size / 2
        var zr = [Double](repeating: 0, count: m), zi = [Double](repeating: 0, count: m)
        for (index, value) in signal.enumerated() {
            if index & 1 == 0 { zr[index >> 1] = value } else { zi[index >> 1] = value }
        }
        zr.withUnsafeMutableBufferPointer { re in
            zi.withUnsafeMutableBufferPointer { im in complexTransform(re, im, count: m, inverse: false) }
        }
        var xr = [Double](repeating: 0, count: m + 1), xi = [Double](repeating: 0, count: m + 1)
        for k in 0...m {
            let (ar, ai) = (zr[k % m], zi[k % m])
            let (br, bi) = (zr[(m - k) % m], -zi[(m - k) % m])
            let (er, ei) = (0.5 * (ar + br), 0.5 * (ai + bi))
            let (dr, di) = (0.5 * (ar - br), 0.5 * (ai - bi))
            // −i·W^k·d with W^k = e^{−2πik/N} = (cos, sin) table entries of the span-M stage.
            let (wr, wi) = k < m ? (cosines[m + k], sines[m + k]) : (-1.0, 0.0)
            let (pr, pi) = (wr * dr - wi * di, wr * di + wi * dr)
            xr[k] = er + pi
            xi[k] = ei - pr
        }
        return (xr, xi)
    }

    /// The inverse of `realForward`: the real sequence of `size` points whose spectrum is X[0…size/2].
    package func realInverse(real xr: [Double], imaginary xi: [Double]) -> [Double] {
        let m = size / 2
        precondition(xr.count == m + 1 && xi.count == m + 1)
        var zr = [Double](repeating: 0, count: m), zi = [Double](repeating: 0, count: m)
        for k in 0..<m {
            let (ar, ai) = (xr[k], xi[k])
            let (br, bi) = (xr[m - k], -xi[m - k])
            let (er, ei) = (0.5 * (ar + br), 0.5 * (ai + bi))
            let (dr, di) = (0.5 * (ar - br), 0.5 * (ai - bi))
            // Fo = d·W^{−k}, Z = Fe + i·Fo.
            let (wr, wi) = (cosines[m + k], -sines[m + k])
            let (or, oi) = (wr * dr - wi * di, wr * di + wi * dr)
            zr[k] = er - oi
            zi[k] = ei + or
        }
        zr.withUnsafeMutableBufferPointer { re in
            zi.withUnsafeMutableBufferPointer { im in complexTransform(re, im, count: m, inverse: true) }
        }
        var output = [Double](repeating: 0, count: size)
        for k in 0..<m {
            output[2 * k] = zr[k]
            output[2 * k + 1] = zi[k]
        }
        return output
    }

    private static func bitReverse(_ re: UnsafeMutableBufferPointer<Double>, _ im: UnsafeMutableBufferPointer<Double>,
                                   _ n: Int) {
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j {
                re.swapAt(i, j)
                im.swapAt(i, j)
            }
        }
    }
}

package enum Convolution {
    /// The cyclic n-fold self-convolution of `probabilities` on `length` points (a power of two):
    /// real(IFFT(FFT(p)ⁿ)), as dp-accounting's `common.self_convolve` computes it before its window is cut.
    /// Each spectral value is raised to the n-th power by repeated squaring (relative error about n·2⁻⁵³, as for
    /// NumPy's exp(n·log z), which dp-accounting uses for n ≥ 100).
    package static func selfConvolve(_ probabilities: [Double], times n: Int, length: Int) -> [Double] {
        let transformLength = max(length, 4)
        let fft = FFT(size: transformLength)
        var (real, imaginary) = fft.realForward(probabilities)
        for k in real.indices {
            var (baseRe, baseIm) = (real[k], imaginary[k])
            var (re, im) = (1.0, 0.0)
            var exponent = n
            while exponent > 0 {
                if exponent & 1 == 1 { (re, im) = (re * baseRe - im * baseIm, re * baseIm + im * baseRe) }
                exponent >>= 1
                if exponent > 0 {
                    (baseRe, baseIm) = (baseRe * baseRe - baseIm * baseIm, 2 * baseRe * baseIm)
                }
            }
            real[k] = re
            imaginary[k] = im
        }
        let cyclic = fft.realInverse(real: real, imaginary: imaginary)
        if transformLength == length { return cyclic }
        // A length below 4: fold the 4-point cycle onto `length` points.
        var folded = [Double](repeating: 0, count: length)
        for (index, value) in cyclic.enumerated() { folded[index % length] += value }
        return folded
    }

    /// The full linear convolution of `a` and `b` (length a.count + b.count − 1), by FFT.
    package static func convolve(_ a: [Double], _ b: [Double]) -> [Double] {
        if a.count == 1 { return b.map { $0 * a[0] } }
        if b.count == 1 { return a.map { $0 * b[0] } }
        let outputCount = a.count + b.count - 1
        let fft = FFT(size: max(FFT.length(atLeast: outputCount), 4))
        let (ar, ai) = fft.realForward(a), (br, bi) = fft.realForward(b)
        var pr = [Double](repeating: 0, count: ar.count), pi = [Double](repeating: 0, count: ar.count)
        for k in ar.indices {
            pr[k] = ar[k] * br[k] - ai[k] * bi[k]
            pi[k] = ar[k] * bi[k] + ai[k] * br[k]
        }
        return Array(fft.realInverse(real: pr, imaginary: pi)[0..<outputCount])
    }
}
