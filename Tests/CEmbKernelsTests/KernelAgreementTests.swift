import CEmbKernels
import EmbHash
import Foundation
import Testing

/// Every int8 path this CPU runs must give exactly the scalar twin's integer sums and, since the
/// epilogue is exact up to one fused multiply-add in a fixed order, the same floats.
@Suite struct KernelAgreementTests {
    static let paths = [EMBK_PATH_SCALAR, EMBK_PATH_AVX2, EMBK_PATH_AVX512VNNI].filter { embk_path_available($0) != 0 }

    struct Packed {
        let n, k, group: Int
        let pointer: UnsafeMutableRawPointer
        init(weights: [Float], n: Int, k: Int, group: Int) {
            let groups = (k + group - 1) / group
            var q = [Int8](repeating: 0, count: n * k)
            var s = [Float](repeating: 0, count: n * groups)
            embk_quantize_weights(weights, Int32(n), Int32(k), Int32(group), &q, &s)
            self.init(q: q, scales: s, n: n, k: k, group: group)
        }
        init(q: [Int8], scales: [Float], n: Int, k: Int, group: Int) {
            (self.n, self.k, self.group) = (n, k, group)
            self.pointer = UnsafeMutableRawPointer.allocate(byteCount: embk_packed_size(Int32(n), Int32(k), Int32(group)), alignment: 64)
            embk_pack_weights(q, scales, Int32(n), Int32(k), Int32(group), self.pointer)
        }
        func free() { self.pointer.deallocate() }
    }

    func sums(_ path: embk_path, _ a: [UInt8], m: Int, lda: Int, _ w: Packed) -> [Int32] {
        var s = [Int32](repeating: 0, count: m * w.n * ((w.k + w.group - 1) / w.group))
        embk_gemm_group_sums(path, Int32(m), Int32(w.n), Int32(w.k), Int32(w.group), a, Int32(lda), w.pointer, &s)
        return s
    }

    @Test func pathsUnderTestAreNamed() {
        #expect(Self.paths.contains(EMBK_PATH_SCALAR))
        print("int8 paths under test: \(Self.paths.map { String(cString: embk_path_name($0)) })")
    }

    @Test func allPathsGiveTheScalarSumsAndOutputsOnRandomOddShapes() {
        var rng = SplitMix64(seed: 42)
        for trial in 0..<200 {
            var (m, n, k) = (Int.random(in: 1...37, using: &rng), Int.random(in: 1...70, using: &rng), Int.random(in: 1...100, using: &rng))
            var group = [4, 8, 64][Int.random(in: 0..<3, using: &rng)]
            // The shapes of the BERT family's layers: hidden 384 and 768, FFN 1536 and 3072, fused QKV.
            switch trial {
            case 0: (m, n, k, group) = (13, 384, 1536, 64)
            case 40: (m, n, k, group) = (7, 2304, 768, 64)
            case 80: (m, n, k, group) = (13, 768, 3072, 64)
            case 120: (m, n, k, group) = (37, 3072, 768, 64)
            case 160: (m, n, k, group) = (115, 1152, 384, 64)
            default: break
            }
            let w = Packed(weights: (0..<n * k).map { _ in Float.random(in: -1...1, using: &rng) }, n: n, k: k, group: group)
            defer { w.free() }
            let x = (0..<m * k).map { _ in Float.random(in: -3...3, using: &rng) }
            let ldq = (k + 3) / 4 * 4
            let groups = (k + group - 1) / group
            var reference: ([UInt8], [Float], [Int32])? = nil
            for path in Self.paths {
                var q = [UInt8](repeating: 7, count: m * ldq)
                var scale = [Float](repeating: 0, count: m * groups)
                var zp = [Int32](repeating: 0, count: m * groups)
                embk_quantize_rows(path, x, Int32(m), Int32(k), Int32(k), Int32(group), &q, Int32(ldq), &scale, &zp)
                if let r = reference {
                    #expect(q == r.0 && scale == r.1 && zp == r.2, "quantization differs on \(String(cString: embk_path_name(path)))")
                } else {
                    reference = (q, scale, zp)
                }
            }
            let (q, scale, zp) = reference!
            let expected = self.sums(EMBK_PATH_SCALAR, q, m: m, lda: ldq, w)
            let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
            var scalarOut = [Float](repeating: 0, count: m * n)
            embk_gemm(EMBK_PATH_SCALAR, Int32(m), Int32(n), Int32(k), Int32(group), q, Int32(ldq), scale, zp, w.pointer,
                      trial % 2 == 0 ? bias : nil, &scalarOut, Int32(n), 0, Int32(n))
            for path in Self.paths.dropFirst() {
                #expect(self.sums(path, q, m: m, lda: ldq, w) == expected, "m\(m) n\(n) k\(k) g\(group) \(String(cString: embk_path_name(path)))")
                var out = [Float](repeating: .nan, count: m * n)
                // Two column ranges, split at a panel boundary, as the encoder's threads do.
                let split = min(n, Int(EMBK_PANEL) * max(1, n / 32))
                for (lo, hi) in [(0, split), (split, n)] where lo < hi {
                    embk_gemm(path, Int32(m), Int32(n), Int32(k), Int32(group), q, Int32(ldq), scale, zp, w.pointer,
                              trial % 2 == 0 ? bias : nil, &out, Int32(n), Int32(lo), Int32(hi))
                }
                #expect(out == scalarOut, "outputs differ: m\(m) n\(n) k\(k) g\(group) \(String(cString: embk_path_name(path)))")
            }
        }
    }

    @Test func extremesOfInt8DoNotOverflowOrSaturate() {
        let (m, n, k, group) = (5, 33, 512, 512)
        for weight: Int8 in [127, -127] {
            let w = Packed(q: [Int8](repeating: weight, count: n * k), scales: [Float](repeating: 1, count: n), n: n, k: k, group: group)
            defer { w.free() }
            for byte: UInt8 in [255, 0, 1] {
                let a = [UInt8](repeating: byte, count: m * k)
                let exact = Int32(byte) * Int32(weight) * Int32(k)
                for path in Self.paths {
                    #expect(self.sums(path, a, m: m, lda: k, w).allSatisfy { $0 == exact }, "\(byte)×\(weight) on \(String(cString: embk_path_name(path)))")
                }
            }
        }
    }

    @Test func theFloatOutputApproximatesTheFloatProduct() {
        var rng = SplitMix64(seed: 7)
        let (m, n, k) = (9, 50, 384)
        let wf = (0..<n * k).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
        let x = (0..<m * k).map { _ in Float.random(in: -2...2, using: &rng) }
        let w = Packed(weights: wf, n: n, k: k, group: 64)
        defer { w.free() }
        var q = [UInt8](repeating: 0, count: m * k)
        var s = [Float](repeating: 0, count: m * 6)
        var z = [Int32](repeating: 0, count: m * 6)
        embk_quantize_rows(embk_best_path(), x, Int32(m), Int32(k), Int32(k), 64, &q, Int32(k), &s, &z)
        var out = [Float](repeating: 0, count: m * n)
        embk_gemm(embk_best_path(), Int32(m), Int32(n), Int32(k), 64, q, Int32(k), s, z, w.pointer, nil, &out, Int32(n), 0, Int32(n))
        var worst = 0.0
        var scaleOfValues = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var r = 0.0
                for p in 0..<k { r += Double(x[i * k + p]) * Double(wf[j * k + p]) }
                worst = max(worst, abs(r - Double(out[i * n + j])))
                scaleOfValues = max(scaleOfValues, abs(r))
            }
        }
        // Two 8-bit quantizations over 64-wide groups: errors of ~1% of the largest value, not more.
        #expect(worst <= 0.02 * scaleOfValues, "worst \(worst) of \(scaleOfValues)")
    }

    @Test func quantizationHandlesZeroConstantAndOneSidedGroups() {
        let k = 16
        let rows: [[Float]] = [
            [Float](repeating: 0, count: k), [Float](repeating: 2.5, count: k), [Float](repeating: -1, count: k),
            (0..<k).map { Float($0) }, (0..<k).map { -Float($0) * 0.1 },
        ]
        for path in Self.paths {
            var q = [UInt8](repeating: 9, count: rows.count * 20)
            var s = [Float](repeating: 0, count: rows.count * 2)
            var z = [Int32](repeating: 0, count: rows.count * 2)
            embk_quantize_rows(path, rows.flatMap { $0 }, Int32(rows.count), Int32(k), Int32(k), 8, &q, 20, &s, &z)
            for (r, row) in rows.enumerated() {
                for (i, v) in row.enumerated() {
                    let g = r * 2 + i / 8
                    let back = s[g] * Float(Int32(q[r * 20 + i]) - z[g])
                    #expect(abs(back - v) <= s[g] / 2 + 1e-6, "row \(r) value \(v) came back as \(back)")
                }
                #expect(q[(r * 20 + 16)..<(r * 20 + 20)].allSatisfy { $0 == 0 }, "pad bytes are written")
            }
            #expect(s[0] == 0 && z[0] == 0, "an all-zero group has scale 0")
        }
    }

    @Test func floatGEMMMatchesADoubleLoop() {
        var rng = SplitMix64(seed: 3)
        for (m, n, k) in [(1, 1, 1), (5, 33, 7), (115, 115, 32), (115, 32, 115), (3, 17, 64)] {
            let a = (0..<m * k).map { _ in Float.random(in: -1...1, using: &rng) }
            let b = (0..<k * n).map { _ in Float.random(in: -1...1, using: &rng) }
            var c = [Float](repeating: 1, count: m * n)
            embk_sgemm_nn(Int32(m), Int32(n), Int32(k), 0.5, a, Int32(k), b, Int32(n), &c, Int32(n), 1)
            for i in 0..<m {
                for j in 0..<n {
                    var r = 1.0
                    for p in 0..<k { r += 0.5 * Double(a[i * k + p]) * Double(b[p * n + j]) }
                    #expect(abs(r - Double(c[i * n + j])) <= 1e-4 * Double(k), "(\(m),\(n),\(k)) [\(i),\(j)]")
                }
            }
        }
    }

    /// The fused AVX-512 attention kernel gives the bits of the steps it replaces (transpose, float
    /// GEMM, softmax, float GEMM, each on its AVX-512 path), and every path approximates a double loop.
    @Test func attentionMatchesItsStepsAndADoubleLoop() {
        var rng = SplitMix64(seed: 11)
        // (tokens, head size, heads): MiniLM's 32-wide heads, BERT-base's 64, odd sizes, 1 and 512 tokens
        for (t, d, heads) in [(1, 32, 2), (5, 32, 3), (13, 32, 12), (115, 32, 2), (9, 64, 2), (115, 64, 2), (512, 64, 1), (33, 48, 2), (17, 8, 3)] {
            let h = d * heads, ld = 3 * h
            let qkv = (0..<t * ld).map { _ in Float.random(in: -3...3, using: &rng) }
            let scale = 1 / Float(d).squareRoot()
            // Without and with an additive score bias (MPNet's relative positions): [heads][t][ldb].
            let ldb = t + 3
            for biased in [false, true] {
            let bias = biased ? (0..<heads * t * ldb).map { _ in Float.random(in: -2...2, using: &rng) } : []
            for head in [0, heads - 1] {
                let (q, k, v) = (head * d, h + head * d, 2 * h + head * d)
                let b0 = head * t * ldb
                func withBias<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
                    biased ? bias.withUnsafeBufferPointer { body($0.baseAddress! + b0) } : body(nil)
                }
                var expected = [Double](repeating: 0, count: t * d)
                for i in 0..<t {
                    var p = (0..<t).map { j in (0..<d).reduce(0.0) { $0 + Double(qkv[i * ld + q + $1]) * Double(qkv[j * ld + k + $1]) } * Double(scale) + (biased ? Double(bias[b0 + i * ldb + j]) : 0) }
                    let mx = p.max()!
                    p = p.map { Foundation.exp($0 - mx) }
                    let sum = p.reduce(0, +)
                    for c in 0..<d { expected[i * d + c] = (0..<t).reduce(0.0) { $0 + p[$1] / sum * Double(qkv[$1 * ld + v + c]) } }
                }
                var scratch = [Float](repeating: .nan, count: embk_attention_scratch(Int32(t), Int32(d)))
                for path in [EMBK_PATH_SCALAR, embk_best_path()] {
                    var out = [Float](repeating: .nan, count: t * h)
                    qkv.withUnsafeBufferPointer { b in
                        let base = b.baseAddress!
                        withBias { bp in
                            embk_attention(path, Int32(t), Int32(d), scale, base + q, base + k, base + v, Int32(ld), bp, Int32(ldb), &out[head * d], Int32(h), &scratch)
                        }
                    }
                    let worst = (0..<t * d).map { abs(Double(out[($0 / d) * h + head * d + $0 % d]) - expected[$0]) }.max()!
                    #expect(worst <= 1e-5, "t\(t) d\(d) head \(head) \(String(cString: embk_path_name(path))): \(worst)")
                }
                guard embk_best_path() == EMBK_PATH_AVX512VNNI else { continue }
                var kt = [Float](repeating: 0, count: d * t), scores = [Float](repeating: 0, count: t * t)
                var steps = [Float](repeating: .nan, count: t * d), fused = [Float](repeating: .nan, count: t * d)
                qkv.withUnsafeBufferPointer { b in
                    let base = b.baseAddress!
                    embk_transpose(base + k, Int32(t), Int32(d), Int32(ld), &kt, Int32(t))
                    embk_sgemm_nn(Int32(t), Int32(t), Int32(d), scale, base + q, Int32(ld), kt, Int32(t), &scores, Int32(t), 0)
                    if biased { for i in 0..<t { for j in 0..<t { scores[i * t + j] += bias[b0 + i * ldb + j] } } }
                    embk_softmax_rows(&scores, Int32(t), Int32(t), Int32(t))
                    embk_sgemm_nn(Int32(t), Int32(d), Int32(t), 1, scores, Int32(t), base + v, Int32(ld), &steps, Int32(d), 0)
                    withBias { bp in
                        embk_attention(EMBK_PATH_AVX512VNNI, Int32(t), Int32(d), scale, base + q, base + k, base + v, Int32(ld), bp, Int32(ldb), &fused, Int32(d), &scratch)
                    }
                }
                #expect(fused == steps, "t\(t) d\(d) bias \(biased): the fused kernel's bits differ from its steps'")
            }
            }
        }
    }

    /// FFN2's input in one pass (embk_gelu_quantize_rows) must be, bit for bit, embk_gelu on the rows followed
    /// by embk_quantize_rows, on every path: then the encoder's vectors (and cache keys) do not move.
    @Test func geluFusedIntoTheQuantizerGivesTheBytesOfTheTwoSteps() {
        var rng = SplitMix64(seed: 19)
        // The FFN widths of the family (1536, 3072), the hidden ones, 96 (not a multiple of 64) and odd ones;
        // group 64 (the scheme) and groups that are not multiples of the vector width.
        let shapes = [96, 384, 768, 1536, 3072, 1, 17, 100].flatMap { k in [64, 4, 8, 100].map { (k, $0) } }
        for (k, group) in shapes {
            let (m, ldx) = (9, k + 5)
            let ldq = (k + 3) / 4 * 4 + 8
            let groups = (k + group - 1) / group
            var x = (0..<m * ldx).map { i in Float.random(in: -6...6, using: &rng) * (i % 7 == 0 ? 4 : 1) }
            for i in 0..<ldx {
                x[2 * ldx + i] = 0  // an all-zero row: every group's range is 0
                x[3 * ldx + i] = -Float.random(in: 0...9, using: &rng)  // GELU of negatives: one-sided, tiny
                x[4 * ldx + i] = Float.random(in: -1e-3...1e-3, using: &rng)
            }
            x[5 * ldx] = .greatestFiniteMagnitude
            x[5 * ldx + k - 1] = -.greatestFiniteMagnitude
            var gelu = x
            gelu.withUnsafeMutableBufferPointer { rows in
                for r in 0..<m { embk_gelu(rows.baseAddress! + r * ldx, k) }
            }
            for path in Self.paths {
                let name = "k\(k) g\(group) \(String(cString: embk_path_name(path)))"
                var steps = ([UInt8](repeating: 7, count: m * ldq), [Float](repeating: .nan, count: m * groups), [Int32](repeating: -1, count: m * groups))
                embk_quantize_rows(path, gelu, Int32(m), Int32(k), Int32(ldx), Int32(group), &steps.0, Int32(ldq), &steps.1, &steps.2)
                var fused = ([UInt8](repeating: 7, count: m * ldq), [Float](repeating: .nan, count: m * groups), [Int32](repeating: -1, count: m * groups))
                let before = x
                embk_gelu_quantize_rows(path, x, Int32(m), Int32(k), Int32(ldx), Int32(group), &fused.0, Int32(ldq), &fused.1, &fused.2)
                #expect(fused.0 == steps.0, "bytes differ: \(name)")
                #expect(fused.1.map(\.bitPattern) == steps.1.map(\.bitPattern), "scales differ: \(name)")
                #expect(fused.2 == steps.2, "zero points differ: \(name)")
                #expect(x.map(\.bitPattern) == before.map(\.bitPattern), "the input was written: \(name)")
            }
        }
    }

    @Test func erfAndExpMatchTheCLibrary() {
        var x: Float = -10
        while x < 10 {
            #expect(abs(Double(embk_erf(x)) - erf(Double(x))) <= 5e-7, "erf(\(x))")
            #expect(abs(Double(embk_exp(x)) - exp(Double(x))) <= 2e-7 * exp(Double(x)), "exp(\(x))")
            x += 0.01
        }
    }

    @Test func softmaxRowsSumToOne() {
        var rows: [Float] = (0..<3 * 40).map { Float($0 % 17) - 8 }
        embk_softmax_rows(&rows, 3, 37, 40)
        for r in 0..<3 {
            let sum = rows[(r * 40)..<(r * 40 + 37)].reduce(0, +)
            #expect(abs(sum - 1) < 1e-5)
        }
        #expect(rows[37] == Float(37 % 17) - 8, "columns past n are untouched")
    }
}
