// The machine's int8 multiply-add peak, measured: a loop of nothing but the path's best int8
// multiply-add instruction on registers (no loads, no stores, no epilogue), with enough independent
// accumulators to cover the instruction's latency on two issue ports. `embcache bench encoder` runs it
// on the encoder's own threads in the same command as the encoder and prints the encoder's effective
// MAC/s as a share of it: the distance to the limit, measured where the encoder runs.
//   avx512-vnni  vpdpbusd zmm: 64 u8·s8 MACs per instruction (what the GEMM runs)
//   avx2         vpmaddubsw + vpmaddwd(ones) + vpaddd ymm: 32 MACs per three instructions (the fastest
//                int8 sequence on AVX2, though our AVX2 GEMM uses exact vpmaddwd: vpmaddubsw saturates)
//   scalar       integer multiply-adds, 1 MAC each
#include "CEmbKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// 16 accumulators: vpdpbusd has 4-5 cycles of latency and issues on 2 ports, so ≥ 10 chains are needed.
enum { CHAINS = 16 };

__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static int64_t peak_avx512(int64_t iterations, int seed) {
    const __m512i a = _mm512_set1_epi32(0x01010101 * (seed & 0x7F)), b = _mm512_set1_epi32(0x01020304 + seed);
    __m512i acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_epi32(i + seed);
    for (int64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
        // Keep a and b in registers and the chains independent: an empty asm "uses" the accumulators
        // so the compiler can neither drop nor merge the iterations.
        for (int i = 0; i < CHAINS; i++) __asm__ volatile("" : "+v"(acc[i]));
    }
    __m512i s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_epi32(s, acc[i]);
    return (int64_t)_mm512_reduce_add_epi32(s) & 1;
}

// The products do not depend on the accumulators, so `a` is passed through an empty asm every
// iteration (else the compiler computes them once), and each chain has its own `b` (else they merge).
enum { CHAINS2 = 6 };
__attribute__((target("avx2"), noinline)) static int64_t peak_avx2(int64_t iterations, int seed) {
    __m256i a = _mm256_set1_epi32(0x01010101 * (seed & 0x7F));
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[CHAINS2], b[CHAINS2];
    for (int i = 0; i < CHAINS2; i++) {
        acc[i] = _mm256_set1_epi32(i + seed);
        b[i] = _mm256_set1_epi32(0x01020304 * (i + 1) + seed);
    }
    for (int64_t it = 0; it < iterations; it++) {
        __asm__ volatile("" : "+x"(a));
        for (int i = 0; i < CHAINS2; i++)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b[i]), ones));
    }
    __m256i s = acc[0];
    for (int i = 1; i < CHAINS2; i++) s = _mm256_add_epi32(s, acc[i]);
    return (int64_t)_mm256_extract_epi32(s, 0) & 1;
}
#endif

__attribute__((noinline)) static int64_t peak_scalar(int64_t iterations, int seed) {
    int32_t acc[8];
    for (int i = 0; i < 8; i++) acc[i] = i + seed;
    int32_t a = seed + 3;
    const int32_t b = seed + 5;
    for (int64_t it = 0; it < iterations; it++) {
        __asm__ volatile("" : "+r"(a));  // as in peak_avx2: else the products are computed once
        for (int i = 0; i < 8; i++) acc[i] += a * (b + i);
        __asm__ volatile("" : "+r"(acc[0]), "+r"(acc[1]), "+r"(acc[2]), "+r"(acc[3]),
                              "+r"(acc[4]), "+r"(acc[5]), "+r"(acc[6]), "+r"(acc[7]));
    }
    return (int64_t)(acc[0] ^ acc[7]) & 1;
}

volatile int64_t embk_peak_sink;

int64_t embk_peak_macs_per_iteration(embk_path path) {
    switch (path) {
    case EMBK_PATH_AVX512VNNI: return 64 * CHAINS;      // 16 vpdpbusd zmm
    case EMBK_PATH_AVX2: return 32 * CHAINS2;          // 6 × (vpmaddubsw + vpmaddwd + vpaddd) ymm
    default: return 8;                                  // 8 integer multiply-adds
    }
}

int64_t embk_peak_macs(embk_path path, int64_t iterations) {
    if (!embk_path_available(path) || iterations <= 0) return 0;
    int64_t sink = 0;
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI) sink = peak_avx512(iterations, (int)(iterations & 3));
    else if (path == EMBK_PATH_AVX2) sink = peak_avx2(iterations, (int)(iterations & 3));
    else
#endif
        sink = peak_scalar(iterations, (int)(iterations & 3));
    embk_peak_sink = sink;  // keeps the loop's result alive
    return iterations * embk_peak_macs_per_iteration(path);
}

// The machine's memory read bandwidth, measured: what streaming a model's weights at batch 1 is
// held against (a 768-wide 12-layer model's 90 MB of packed weights do not fit in the last-level
// cache). The loop reads every 64-byte line once, with nothing else to do per line, from a buffer
// far larger than the cache; `embcache bench encoder --bandwidth-mb` runs it on all threads at once.
#if defined(__x86_64__)
__attribute__((target("avx512f"), noinline)) static uint64_t stream_read_avx512(const uint8_t *p, size_t lines) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 4 <= lines; i += 4) {
        a0 = _mm512_xor_si512(a0, _mm512_load_si512((const void *)(p + 64 * i)));
        a1 = _mm512_xor_si512(a1, _mm512_load_si512((const void *)(p + 64 * i + 64)));
        a2 = _mm512_xor_si512(a2, _mm512_load_si512((const void *)(p + 64 * i + 128)));
        a3 = _mm512_xor_si512(a3, _mm512_load_si512((const void *)(p + 64 * i + 192)));
    }
    for (; i < lines; i++) a0 = _mm512_xor_si512(a0, _mm512_load_si512((const void *)(p + 64 * i)));
    const __m512i s = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    return (uint64_t)_mm512_reduce_add_epi64(s);
}
#endif

uint64_t embk_stream_read(const void *buffer, size_t bytes) {
    const uint8_t *p = buffer;
    const size_t lines = bytes / 64;
#if defined(__x86_64__)
    if (embk_path_available(EMBK_PATH_AVX512VNNI)) return stream_read_avx512(p, lines);
#endif
    // Portable: every 8-byte word, in four chains.
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const uint64_t *w = buffer;
    for (size_t i = 0; i < 8 * lines; i += 4) {
        s0 ^= w[i];
        s1 ^= w[i + 1];
        s2 ^= w[i + 2];
        s3 ^= w[i + 3];
    }
    return s0 ^ s1 ^ s2 ^ s3;
}
