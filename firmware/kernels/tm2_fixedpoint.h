/* Fixed-point helpers with the exact rounding of TFLite's reference kernels (gemmlowp semantics).
 * Hand-written for tinym2net. All functions are static inline and heap-free. */
#ifndef TM2_FIXEDPOINT_H
#define TM2_FIXEDPOINT_H
#include <stdint.h>

#define TM2_ALIGN __attribute__((aligned(16)))

/* A loop nest that several kernels share, each passing constant functions for what differs
 * (tm2_conv_loop.h, tm2_pool.c): inlined into each kernel before the kernel is optimised, so every
 * kernel compiles as if the loops were written out in it. (Left to GCC's late inliner, the same loops
 * come out with more spills in the innermost loop.) */
#define TM2_ALWAYS_INLINE static inline __attribute__((always_inline))

static inline int32_t tm2_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t tm2_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tm2_clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), saturating the one overflow case. */
static inline int32_t tm2_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  int64_t sum = ab + nudge;
  /* C division truncates toward zero, as gemmlowp's does. */
  return (int32_t)(sum / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: divide by 2^exponent, rounding half away from zero. */
static inline int32_t tm2_rdbpot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
  return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double-rounding variant, TFLite's default). shift > 0 is a left shift. */
static inline int32_t tm2_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return tm2_rdbpot(tm2_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (left_shift <= 0). */
static inline int32_t tm2_mbqm_small(int32_t x, int32_t multiplier, int32_t left_shift) {
  return tm2_rdbpot(tm2_srdhm(x, multiplier), -left_shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0). */
static inline int32_t tm2_mbqm_big(int32_t x, int32_t multiplier, int32_t left_shift) {
  return tm2_srdhm((int32_t)((uint32_t)x << left_shift), multiplier);
}

/* TFLite's int64 MultiplyByQuantizedMultiplier: one rounding (half up) of x*m / 2^(31-shift).
 * LiteRT's reference FULLY_CONNECTED rescales this way; TFLite Micro's uses tm2_mbqm (two roundings). */
static inline int32_t tm2_mbqm_single(int32_t x, int32_t multiplier, int32_t shift) {
  const int total_shift = 31 - shift;
  const int64_t round = (int64_t)1 << (total_shift - 1);
  return (int32_t)(((int64_t)x * (int64_t)multiplier + round) >> total_shift);
}

#endif
