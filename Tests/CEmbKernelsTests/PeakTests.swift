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

/// The memory-bandwidth loop of `embcache bench encoder --bandwidth-mb` (embk_stream_read) reads
/// every byte it is given: a change anywhere changes its result.
@Suite struct StreamReadTests {
    @Test func theStreamReadReadsEveryByte() {
        let bytes = 64 * 37  // not a multiple of the loop's 4 lines
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        let u8 = buffer.bindMemory(to: UInt8.self, capacity: bytes)
        for i in 0..<bytes { u8[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 3) }
        let base = embk_stream_read(buffer, bytes)
        for i in stride(from: 0, to: bytes, by: 13) + [bytes - 1] {
            u8[i] ^= 0x10
            #expect(embk_stream_read(buffer, bytes) != base, "byte \(i) was not read")
            u8[i] ^= 0x10
        }
        #expect(embk_stream_read(buffer, bytes) == base)
        #expect(embk_stream_read(buffer, 0) == 0)
    }
}
