// The machine's int8 multiply-add peak, measured on the encoder's own threads: `embcache bench encoder`
// reports the encoder's effective MAC/s as a share of it, so every run shows the distance to the
// limit under the same conditions (same threads, same moment, same neighbours on a shared machine).
import CEmbKernels
import Foundation
import Synchronization

extension BertEncoder {
    /// Runs the register-only peak loop of this encoder's int8 path (`embk_peak_macs`: vpdpbusd on
    /// AVX-512 VNNI) on all `threads` threads at once, in steps of about 10 ms, for about `seconds`,
    /// and returns the best steps' MACs per second over all threads. A peak is a maximum: a step during
    /// which another process had one of the cores reads low, so the best step is the figure.
    public func measurePeak(seconds: Double) -> Double {
        let path = self.kernelPath
        // Calibrate the iterations of a ~10 ms step on one thread.
        var iterations: Int64 = 10_000
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = embk_peak_macs(path, iterations)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if elapsed >= 0.002 {
                iterations = max(1, Int64(Double(iterations) * 0.010 / elapsed))
                break
            }
            iterations *= 4
        }
        var best = 0.0
        let begin = DispatchTime.now().uptimeNanoseconds
        repeat {
            let start = DispatchTime.now().uptimeNanoseconds
            let macs = Mutex<Int64>(0)
            // Step by step under the encoder's lock: a pass started meanwhile on another thread (a
            // node serving while it measures, tests sharing an encoder) would otherwise hand the
            // pool a second step while this one runs (it crashed EmbModelTests now and then).
            self.withPoolAlone {
                self.pool.run { _ in
                    let done = embk_peak_macs(path, iterations)
                    macs.withLock { $0 += done }
                }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(macs.withLock { $0 }) / elapsed)
        } while Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9 < seconds
        return best
    }
}
