// Runtime CPU dispatch: which int8 path this machine runs. One probe, cached; the chosen path is
// logged by the encoder and shown by `embcache embed --verbose` and INFO (as xxHash's
// xxh_x86dispatch.c and ggml's cpu-feats-x86.cpp do, we never compile for the build machine's CPU).
#include "CEmbKernels.h"

int embk_path_available(embk_path path) {
    switch (path) {
    case EMBK_PATH_SCALAR:
        return 1;
#if defined(__x86_64__)
    case EMBK_PATH_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case EMBK_PATH_AVX512VNNI:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
    default:
        return 0;
    }
}

embk_path embk_best_path(void) {
    static int cached = -1;  // benign race: every thread computes the same value
    if (cached < 0) {
        cached = embk_path_available(EMBK_PATH_AVX512VNNI) ? EMBK_PATH_AVX512VNNI
               : embk_path_available(EMBK_PATH_AVX2)       ? EMBK_PATH_AVX2
                                                           : EMBK_PATH_SCALAR;
    }
    return (embk_path)cached;
}

const char *embk_path_name(embk_path path) {
    switch (path) {
    case EMBK_PATH_AVX512VNNI: return "avx512-vnni";
    case EMBK_PATH_AVX2: return "avx2";
    default: return "scalar";
    }
}
