import CEmbKernels
import Testing

/// The int8 peak loop of `embcache bench encoder` (peak.c) counts what it executes.
@Suite struct PeakTests {
    @Test func thePeakLoopReturnsTheMultiplyAddsItRan() {
        for path in [EMBK_PATH_SCALAR, EMBK_PATH_AVX2, EMBK_PATH_AVX512VNNI] {
            let perIteration = embk_peak_macs_per_iteration(path)
            if embk_path_available(path) != 0 {
                #expect(embk_peak_macs(path, 1000) == 1000 * perIteration, "\(String(cString: embk_path_name(path)))")
            } else {
                #expect(embk_peak_macs(path, 1000) == 0, "a path this CPU cannot run measures nothing")
            }
            #expect(embk_peak_macs(path, 0) == 0 && embk_peak_macs(path, -5) == 0)
        }
        #expect(embk_peak_macs_per_iteration(EMBK_PATH_AVX512VNNI) == 16 * 64, "16 vpdpbusd zmm of 64 MACs")
        #expect(embk_peak_macs_per_iteration(EMBK_PATH_AVX2) == 6 * 32, "6 × (vpmaddubsw, vpmaddwd, vpaddd) ymm of 32 MACs")
    }
}
