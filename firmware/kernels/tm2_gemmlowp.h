/* Fixed-point transcendental helpers with the exact arithmetic of gemmlowp's fixedpoint.h, which TFLite's
 * reference SOFTMAX and LOGISTIC kernels use. Hand-written for tinym2net; static inline, no heap, no state.
 *
 * A value is an int32 "raw" word read as a fixed-point number with I integer bits (gemmlowp's
 * FixedPoint<int32_t, I>): real = raw / 2^(31 - I), range [-2^I, 2^I). The integer-bit count is not stored,
 * it is passed to the functions that need it (and written in their names below as Qi).
 *
 * Rules followed so that every result matches gemmlowp bit for bit:
 *   - a product of Qa and Qb is Q(a+b): tm2_srdhm(a, b) (rounding, saturating only -1 * -1);
 *   - + and - are plain two's-complement additions (wrapping, never saturating), done here in uint32 so that
 *     C has no undefined behaviour;
 *   - multiplying by 2^e keeps the format: rounding right shift for e < 0, saturating left shift for e > 0;
 *   - "one" in Q0 is INT32_MAX (1.0 is not representable), otherwise 1 << (31 - I). */
#ifndef TM2_GEMMLOWP_H
#define TM2_GEMMLOWP_H
#include <stdint.h>

#include "tm2_fixedpoint.h"

/* Wrapping addition / subtraction / negation of raw words. */
static inline int32_t tm2_fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t tm2_fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t tm2_fp_neg(int32_t a) { return (int32_t)(0u - (uint32_t)a); }

/* The raw word of 1.0 (or the largest value below it in Q0). */
static inline int32_t tm2_fp_one(int int_bits) { return int_bits == 0 ? INT32_MAX : (int32_t)1 << (31 - int_bits); }

/* x * 2^exponent in the same format: saturating left shift (exponent > 0) or rounding right shift (< 0). */
static inline int32_t tm2_fp_mul_pot(int32_t x, int exponent) {
  if (exponent > 0) {
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
  }
  if (exponent < 0) return tm2_rdbpot(x, -exponent);
  return x;
}

/* Change the number of integer bits from src_bits to dst_bits (gemmlowp Rescale). */
static inline int32_t tm2_fp_rescale(int32_t x, int src_bits, int dst_bits) {
  return tm2_fp_mul_pot(x, src_bits - dst_bits);
}

/* (a + b) / 2 rounded half away from zero, computed in 64 bits (gemmlowp RoundingHalfSum). */
static inline int32_t tm2_fp_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  const int64_t sign = sum >= 0 ? 1 : -1;
  return (int32_t)((sum + sign) / 2); /* C division truncates toward zero */
}

/* Number of leading zero bits of a 32-bit word (32 for 0). */
static inline int tm2_clz_u32(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while ((x & 0x80000000u) == 0) {
    x <<= 1;
    ++n;
  }
  return n;
}

/* exp(a) for a in [-1/4, 0), a in Q0, result in Q0.
 * Taylor expansion around -1/8: with x = a + 1/8,
 *   exp(a) = exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24),
 * evaluated as exp(-1/8) + exp(-1/8) * (x + ((x^4/4 + x^3) / 3 + x^2) / 2). */
static inline int32_t tm2_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0 */
  const int32_t one_third = 715827883;             /* 1/3 in Q0 */
  const int32_t x = tm2_fp_add(a, (int32_t)1 << 28); /* + 1/8 */
  const int32_t x2 = tm2_srdhm(x, x);
  const int32_t x3 = tm2_srdhm(x2, x);
  const int32_t x4 = tm2_srdhm(x2, x2);
  const int32_t x4_over_4 = tm2_fp_mul_pot(x4, -2);
  const int32_t poly = tm2_fp_mul_pot(tm2_fp_add(tm2_srdhm(tm2_fp_add(x4_over_4, x3), one_third), x2), -1);
  return tm2_fp_add(exp_minus_one_eighth, tm2_srdhm(exp_minus_one_eighth, tm2_fp_add(x, poly)));
}

/* exp(a) for a <= 0 given with int_bits integer bits (0 <= int_bits <= 30); result in Q0.
 * Split a = a_mod - m: a_mod = (a mod 1/4) - 1/4 lies in [-1/4, 0) and m = a_mod - a >= 0 is a multiple of
 * 1/4. Then exp(a) = exp(a_mod) * product of exp(-2^b) over the set bits 2^b of m, b = -2 .. 4 (a barrel
 * shifter with the Q0 constants exp(-1/4), exp(-1/2), exp(-1), exp(-2), exp(-4), exp(-8), exp(-16)); bits
 * b >= int_bits cannot be set. With int_bits > 5, inputs below -32 give 0. a == 0 gives one (INT32_MAX). */
static inline int32_t tm2_fp_exp_on_negative_values(int32_t a, int int_bits) {
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int frac_bits = 31 - int_bits;
  const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = tm2_fp_sub(a & mask, one_quarter);
  int32_t result = tm2_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
      tm2_fp_rescale(a_mod_quarter_minus_one_quarter, int_bits, 0));
  const int32_t remainder = tm2_fp_sub(a_mod_quarter_minus_one_quarter, a);
  int i;
  for (i = 0; i < 7; ++i) {
    const int exponent = i - 2;
    if (int_bits > exponent) {
      const int shift = frac_bits + exponent;
      if (remainder & ((int32_t)1 << shift)) result = tm2_srdhm(result, multipliers[i]);
    }
  }
  if (int_bits > 5) {
    const int32_t clamp = -((int32_t)1 << (36 - int_bits)); /* -32.0 */
    if (a < clamp) result = 0;
  }
  if (a == 0) result = INT32_MAX;
  return result;
}

/* 1 / (1 + a) for a in [0, 1), a in Q0, result in Q0: Newton-Raphson division on d = (1 + a) / 2 in Q2,
 * starting from 48/17 - 32/17 * d, three iterations x += x * (1 - d * x), then halved. */
static inline int32_t tm2_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = tm2_fp_rounding_half_sum(a, INT32_MAX);
  const int32_t constant_48_over_17 = 1515870810;   /* Q2 */
  const int32_t constant_neg_32_over_17 = -1010580540; /* Q2 */
  const int32_t one_q2 = (int32_t)1 << 29;
  int32_t x = tm2_fp_add(constant_48_over_17, tm2_srdhm(half_denominator, constant_neg_32_over_17));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = tm2_srdhm(half_denominator, x); /* Q0 * Q2 = Q2 */
    const int32_t one_minus = tm2_fp_sub(one_q2, half_denominator_times_x);
    x = tm2_fp_add(x, tm2_fp_rescale(tm2_srdhm(x, one_minus), 4, 2)); /* Q2 * Q2 = Q4 -> Q2 */
  }
  /* x / 2 as a Q2 value is x read as Q1; rescale Q1 -> Q0. */
  return tm2_fp_rescale(x, 1, 0);
}

/* logistic(a) = 1 / (1 + exp(-a)) for a with int_bits integer bits; result in Q0. For a > 0 it is
 * 1 / (1 + exp(-a)); for a < 0 it is one - logistic(-a); logistic(0) is exactly 1/2. */
static inline int32_t tm2_fp_logistic(int32_t a, int int_bits) {
  const int32_t abs_a = a > 0 ? a : tm2_fp_neg(a);
  const int32_t positive = tm2_fp_one_over_one_plus_x_for_x_in_0_1(
      tm2_fp_exp_on_negative_values(tm2_fp_neg(abs_a), int_bits));
  if (a == 0) return (int32_t)1 << 30;
  if (a > 0) return positive;
  return tm2_fp_sub(INT32_MAX, positive);
}

/* TFLite GetReciprocal: x > 0 with x_integer_digits integer bits. Normalises x to [1, 2) as 1 + s, s in
 * Q0, returns 1 / (1 + s) in Q0 and the number of bits x was above 1.0 (so 1/x = result / 2^bits). */
static inline int32_t tm2_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
  const int headroom_plus_one = tm2_clz_u32((uint32_t)x);
  const int32_t shifted_sum_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  return tm2_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

#endif
