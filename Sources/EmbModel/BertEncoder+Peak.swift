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
        return self.bestRate(seconds: seconds) { _ in embk_peak_macs(path, iterations) }
    }

    /// Runs the memory read loop (`embk_stream_read`) on all `threads` threads at once, each over its
    /// own part of a `megabytes` buffer (written first, so its pages are real), for about `seconds`,
    /// and returns the best steps' bytes per second over all threads: the machine's read bandwidth when
    /// the buffer is far larger than the last-level cache (`embcache bench encoder` uses 512 MB).
    /// What a batch-1 pass that streams its weights from memory is held against.
    public func measureBandwidth(megabytes: Int, seconds: Double) -> Double {
        let threads = self.pool.threads
        let partBytes = max(1, megabytes * 1 << 20 / threads / 64) * 64
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: partBytes * threads, alignment: 64)
        defer { buffer.deallocate() }
        memset(buffer, 0x5A, partBytes * threads)
        let sink = Atomic<UInt64>(0)
        let rate = self.bestRate(seconds: seconds) { part in
            sink.add(embk_stream_read(buffer + part * partBytes, partBytes), ordering: .relaxed)  // keeps the reads
            return Int64(partBytes)
        }
        _ = sink.load(ordering: .relaxed)
        return rate
    }

    /// The best rate of `step` run on every thread of the pool at once (units each thread's call
    /// returns, over all threads, per second of the step), over steps repeated for about `seconds`.
    /// A limit is a maximum: a step during which another process had one of the cores reads low.
    private func bestRate(seconds: Double, _ step: (Int) -> Int64) -> Double {
        var best = 0.0
        let begin = DispatchTime.now().uptimeNanoseconds
        repeat {
            let start = DispatchTime.now().uptimeNanoseconds
            let done = Mutex<Int64>(0)
            // Under the encoder's lock: a batch embedded meanwhile (another test, another caller of
            // this shared encoder) must not run its steps on the pool at the same time.
            self.withPoolToItself {
                self.pool.run { part in
                    let units = step(part)
                    done.withLock { $0 += units }
                }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(done.withLock { $0 }) / elapsed)
        } while Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9 < seconds
        return best
    }
}
