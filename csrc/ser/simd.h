// Vector helpers and libm-free approximations for the hot loops of the descriptors.
//
// Hot loops get an AVX2 clone chosen at load time (SER_MULTIVERSION); other machines run the
// portable build. Everything below is inline and always inlined, so it is compiled for the
// clone that calls it: the same arithmetic (FMA contraction included) as if written in place.
// Without -ffast-math GCC vectorises a reduction only when it is written as independent
// partial sums, and a loop only when it has no libm call: hence the lane sums and the fast
// exp / log / sqrt here. tests/test_simd.py measures each against libm.
#ifndef SER_SIMD_H_
#define SER_SIMD_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SER_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SER_MULTIVERSION
#endif

#define SER_ALWAYS_INLINE inline __attribute__((always_inline))

namespace ser {
namespace simd {

// Independent partial sums per reduction: one 8-float register in the AVX2 clone.
constexpr int kLanes = 8;

// Eight floats as one value (GCC/Clang vector extension): one AVX register in the AVX2 clone,
// two SSE registers in the portable one. Only passed by reference (no psABI question).
typedef float V8 __attribute__((vector_size(32)));

SER_ALWAYS_INLINE void Load8(V8& v, const float* p) { std::memcpy(&v, p, sizeof(V8)); }

SER_ALWAYS_INLINE float HorizontalSum(const V8& v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

// Sum of kLanes partial sums, in lane order.
SER_ALWAYS_INLINE float LaneSum(const float* acc) {
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

// Sum of x[0..n): kLanes partial sums over whole blocks, then the tail, then the lanes.
SER_ALWAYS_INLINE float Sum(const float* x, int n) {
  float part[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) part[j] += x[i + j];
  float total = 0.0f;
  for (; i < n; ++i) total += x[i];
  for (float p : part) total += p;
  return total;
}

// Sum of x[i]^2: float partial sums over whole blocks, the tail and the total in double.
SER_ALWAYS_INLINE double SumSquares(const float* x, int n) {
  float part[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) part[j] += x[i + j] * x[i + j];
  double total = 0.0;
  for (; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  for (float p : part) total += p;
  return total;
}

SER_ALWAYS_INLINE uint32_t FloatBits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}

SER_ALWAYS_INLINE float BitsFloat(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof(x));
  return x;
}

// The selects below work in the integer domain: float selects count as control flow for
// GCC's vectoriser unless -ffast-math.

// Clamps a power value to [0, 1e30] on its bits: negatives and NaNs with the sign bit set (the
// x86 default NaN of invalid arithmetic) become 0; +inf and sign-clear NaNs become 1e30.
SER_ALWAYS_INLINE float CleanPower(float v) {
  constexpr int32_t kMaxBits = 0x7149f2ca;  // 1e30f
  int32_t b = static_cast<int32_t>(FloatBits(v));
  b = b < 0 ? 0 : b;                // sign bit set: negative, -0 or -NaN
  b = b > kMaxBits ? kMaxBits : b;  // +inf and +NaN sort above every finite value
  return BitsFloat(static_cast<uint32_t>(b));
}

// ln(x) for 0 <= x <= FLT_MAX; x below floor (> 0) maps to ln(floor). x = 2^e m with m in
// [sqrt(1/2), sqrt(2)), ln m = 2 atanh(t), t = (m-1)/(m+1), by its series to t^7.
// Relative error below 3e-7 over the float range (absolute below 4e-7 for |ln x| < 8, the
// float rounding of e ln 2 beyond). NaN is not handled: clean the input first (CleanPower).
SER_ALWAYS_INLINE float FastLog(float x, float floor) {
  const int32_t floor_bits = static_cast<int32_t>(FloatBits(floor));
  int32_t b = static_cast<int32_t>(FloatBits(x));
  b = b < floor_bits ? floor_bits : b;
  const int32_t mant = b & 0x007fffff;
  const int32_t big = mant > 0x003504f3;  // mantissa above sqrt(2): use m/2 in [0.707, 1)
  const int32_t e = (b >> 23) - 127 + big;
  const float m = BitsFloat(static_cast<uint32_t>(mant | (0x3f800000 - (big << 23))));
  const float t = (m - 1.0f) / (m + 1.0f);
  const float t2 = t * t;
  const float series = t * (2.0f + t2 * (0.6666667f + t2 * (0.4f + t2 * 0.2857143f)));
  return series + 0.69314718f * static_cast<float>(e);
}

// exp(x) for x clamped to [-80, 80]: x = n ln2 + r (Cody-Waite split of ln 2), exp(r) by
// its degree-6 Taylor polynomial, 2^n added to the exponent bits. Relative error ~2e-7.
SER_ALWAYS_INLINE float FastExp(float x) {
  x = x < -80.0f ? -80.0f : (x > 80.0f ? 80.0f : x);
  const float n = std::nearbyint(x * 1.44269504f);
  const float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
  const float poly =
      1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666716f + r * (0.00833333377f + r * 0.00138888892f)))));
  return BitsFloat(FloatBits(poly) + (static_cast<uint32_t>(static_cast<int32_t>(n)) << 23));
}

// sqrt(x) for 0 <= x <= 1e30 from an inverse-sqrt estimate and three Newton steps
// (relative error ~1e-7); vectorises, unlike std::sqrt under errno semantics.
SER_ALWAYS_INLINE float FastSqrt(float x) {
  uint32_t bits = FloatBits(x);
  bits = 0x5f3759dfu - (bits >> 1);
  float y = BitsFloat(bits);
  const float half = 0.5f * x;
  y = y * (1.5f - half * y * y);
  y = y * (1.5f - half * y * y);
  y = y * (1.5f - half * y * y);
  return x * y;
}

}  // namespace simd
}  // namespace ser

#endif  // SER_SIMD_H_
