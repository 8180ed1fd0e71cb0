import CEmbKernels
import EmbModel
import Foundation
import Testing

/// A node on a CPU without AVX-512 VNNI runs other kernels (AVX2, or the scalar twins); its vectors
/// must be the ones an AVX-512 node computes for the same fingerprint, or two nodes of one cluster
/// would cache different vectors under one key. The int8 GEMM and the int8 attention give the same
/// bits on every path; LayerNorm's float sums are ordered differently on each, so the vectors agree
/// to float rounding, not bit for bit.
@Suite(.serialized) struct EncoderKernelPathTests {
    @Test func everyKernelPathGivesTheBestPathsVectors() throws {
        let model = try EmbeddingModel(directory: TestData.modelDirectory, precision: .int8)
        // Every 14th public text: short and long ones, one batch.
        let refs = try TestData.references().enumerated().filter { $0.offset % 14 == 0 }.map(\.element)
        let ids = refs.map(\.input_ids)
        let best = model.encoder.embed(ids)
        let paths = [EMBK_PATH_SCALAR, EMBK_PATH_AVX2, EMBK_PATH_AVX512VNNI].filter { embk_path_available($0) != 0 && $0 != embk_best_path() }
        for path in paths {
            let name = String(cString: embk_path_name(path))
            let encoder = try BertEncoder(files: model.files, config: model.config, precision: .int8, threads: 2, kernelPath: path)
            #expect(encoder.kernelName == name)
            for (i, vector) in encoder.embed(ids).enumerated() {
                #expect(TestData.cosine(vector, best[i]) >= 0.999999, "\(name), text \(i): \(TestData.cosine(vector, best[i]))")
                #expect(TestData.cosine(vector, refs[i].embedding) >= Thresholds.minCosine, "\(name), text \(i)")
            }
        }
    }
}
