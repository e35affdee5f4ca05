// Hot loops get an AVX2 clone chosen at load time; other machines run the portable build.
#ifndef SER_SIMD_H_
#define SER_SIMD_H_

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SER_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SER_MULTIVERSION
#endif

#endif  // SER_SIMD_H_
