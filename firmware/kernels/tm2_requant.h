/* Per-channel requantisation tables of the packed int8 kernels (tm2_conv_dsp.h, tm2_fc_dsp.h).
 * Hand-written for tinym2net. Header only, static inline, heap-free.
 *
 * Each output channel has one tm2_rq entry (four int32 words), computed at build time by
 * tinym2net/ops/packing.py. What the words mean depends on the layer's mode:
 *
 *   TM2_RQ_DOUBLE  (generic)  out = tm2_mbqm(acc, mult, sh) + output_offset       (sh = TFLite shift)
 *   TM2_RQ_SINGLE  (generic)  out = tm2_mbqm_single(acc, mult, sh) + output_offset
 *   TM2_RQ_DOUBLE_FAST        out = ((int32)((K + acc * mult - 2^31 [acc < 0]) >> 32) >> sh) + output_offset
 *   TM2_RQ_SINGLE_FAST        out = (int32)((K + acc * mult) >> 32) >> sh          (offset inside K)
 *
 * with the 64-bit constant K = hi * 2^32 + lo (lo unsigned). The fast forms give bit for bit the
 * generic result under the conditions the build checks for every channel:
 *
 * Double rounding (TFLite's MultiplyByQuantizedMultiplier, right shift e = -shift >= 2):
 *   v = SaturatingRoundingDoublingHighMul(acc, m) = floor((acc*m + 2^30) / 2^31)   (ties go up; the
 *       saturating case needs m = INT32_MIN, which never occurs since m > 0);
 *   RoundingDivideByPOT(v, e) = floor((v + 2^(e-1) - [v < 0]) / 2^e)             (ties away from 0).
 *   Nested floors of divisions by powers of two merge, and adding a multiple of the outer divisor
 *   commutes with floor, so  RoundingDivideByPOT(v, e) = floor((acc*m + 2^30 + 2^(30+e) - 2^31 [v<0]) /
 *   2^(31+e)). With m > 2^30, v < 0 exactly when acc < 0. So K = 2^30 + 2^(30+e), and the division is a
 *   64-bit shift by 31 + e = 32 + sh (sh = e - 1). Requires 2^30 < m and 2 <= e <= 31 (|acc*m| + K < 2^63).
 *   Since e >= 2, lo = 2^30, and the DSP kernels form K - 2^31 [acc < 0] as hi = Khi + (acc >> 31),
 *   lo = 2^30 | (acc & 2^31): one SMLAL, no second multiply. A channel whose value is provably 0 for
 *   every reachable accumulator (m = 0, or a tiny multiplier; tinym2net/ops/packing.py) is stored as
 *   m = 0, Khi = 1, sh = 1: the high word is 1 or 0 and shifts to 0.
 * Single rounding (tm2_mbqm_single, total shift t = 31 - shift >= 32):
 *   out = floor((acc*m + 2^(t-1) + zp 2^t) / 2^t), K = 2^(t-1) + zp 2^t, sh = t - 32; requires t <= 54.
 * Channels that meet none of this (left shifts, m = 2^30, e < 2) make the layer use the generic form.
 *
 * TM2_RQ_HIGHMUL (records (m, hz, e) of the packed CONV_2D stream, tm2_conv_dsp.h): the kernel's sums are
 * acc2 = 2 * acc (weights and bias doubled at build time, |acc2| < 2^31 checked), so
 *   SMMULR(acc2, m) = floor((acc2 * m + 2^31) / 2^32) = floor((acc * m + 2^30) / 2^31) = v
 * exactly (TFLite's SaturatingRoundingDoublingHighMul; its saturating case needs m = INT32_MIN). With
 * e = -shift >= 1 and RoundingDivideByPOT(v, e) = floor((v + 2^(e-1) - [v < 0]) / 2^e), the output offset
 * zp joins the rounding constant: out = (v + hz - [v < 0]) >> e with hz = 2^(e-1) + zp * 2^e. SMMLAR adds
 * hz in the same instruction; [v < 0] = [acc2 < 0] when m > 2^30, so the correction is `acc2 asr #31`:
 *   out = (SMMLAR(acc2, m, hz) + (acc2 >> 31)) >> e,   three or four instructions with the saturation.
 * When zp = -128 and the clamp is the full int8 range, the correction is left out: a negative sum gives
 * v <= 0, so both forms give at most zp = -128, which saturates to -128. Constant channels (see above) are
 * m = 0, e = 1, hz = 1 + 2 zp. The build checks every channel: m > 2^30 (or constant), 1 <= e <= 31 and
 * |v| + |hz| + 1 < 2^31; otherwise the layer's records are TM2_RQ_DOUBLE (m, 0, shift) on acc2 / 2.
 *
 * TM2_RQ_HIGHMUL_E (records (m, hz', E) of the packed CONV_2D stream, output offset -128 and the full int8 range):
 * the TM2_RQ_HIGHMUL form without its sign correction with the right shift moved into SSAT's immediate shift, one
 * instruction less per output. E is one constant for the whole layer; channel c (exponent e, k = E - e >= 1) has
 * its weights and bias scaled by 2^k more at build time, so its sums are acc2k = 2^k acc2, and hz' = 2^k hz +
 * 2^(k-1). SMMLA (no rounding) gives, with X = acc2 m + hz 2^32 + 2^31 (the sum SMMLAR's form divides):
 *   SMMLA(acc2k, m, hz') = floor((2^k acc2 m + 2^k hz 2^32 + 2^(k-1) 2^32) / 2^32) = floor(2^k X / 2^32)
 * and nested floors of divisions by powers of two merge:
 *   SMMLA(acc2k, m, hz') >> E = floor(2^k X / 2^(32 + e + k)) = floor(X / 2^(32 + e)) = SMMLAR(acc2, m, hz) >> e,
 * the TM2_RQ_HIGHMUL value for every sum, so out = SSAT(SMMLA(acc2k, m, hz'), #8, asr #E), two instructions.
 * Constant channels (zero weights and bias, output k) are (0, k 2^E, E): SMMLA gives k 2^E, shifted k. The build
 * (tinym2net/ops/packing.py, shift_records) starts from a layer's TM2_RQ_HIGHMUL records and checks every channel:
 * k >= 1, every scaled doubled weight 2^(k+1) w within int16, every sum within int32 (2^(k+1) (sum |w| max |x| +
 * |bias|) < 2^31, which bounds the SMLAD partial sums too), hz' and SMMLA's result within int32 for the largest sums
 * of either sign; a layer where the checks fail for every E keeps its TM2_RQ_HIGHMUL records. The DSP kernels take
 * E as an immediate (one entry point per E, tm2_conv_dsp.h); the third record word holds E for the C forms. */
#ifndef TM2_REQUANT_H
#define TM2_REQUANT_H
#include <stdint.h>

#include "tm2_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#include <arm_acle.h>
#endif

#define TM2_RQ_DOUBLE 0
#define TM2_RQ_DOUBLE_FAST 1
#define TM2_RQ_SINGLE 2
#define TM2_RQ_SINGLE_FAST 3
#define TM2_RQ_HIGHMUL 4
#define TM2_RQ_HIGHMUL_E 5

typedef struct {
  int32_t mult; /* Q31 significand m */
  int32_t hi;   /* fast forms: high word of K; generic forms: unused */
  uint32_t lo;  /* fast forms: low word of K; generic forms: unused */
  int32_t sh;   /* fast forms: final right shift; generic forms: TFLite's shift */
} tm2_rq;

static inline int32_t tm2_rq_double_fast(int32_t acc, const tm2_rq *q, int32_t output_offset) {
  int64_t k = (int64_t)(((uint64_t)(uint32_t)q->hi << 32) | q->lo);
  k += (int64_t)acc * q->mult;
  k -= (int64_t)((uint32_t)acc >> 31) << 31;
  return ((int32_t)(k >> 32) >> q->sh) + output_offset;
}

static inline int32_t tm2_rq_single_fast(int32_t acc, const tm2_rq *q) {
  int64_t k = (int64_t)(((uint64_t)(uint32_t)q->hi << 32) | q->lo);
  k += (int64_t)acc * q->mult;
  return (int32_t)(k >> 32) >> q->sh;
}

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
/* TM2_RQ_DOUBLE_FAST plus the output offset, saturated to int8, in seven instructions: the 64-bit start
 * value K - 2^31 [acc < 0] is hi = Khi + (acc >> 31), lo = 2^30 | (acc & 2^31), then one SMLAL. */
static inline int32_t tm2_rq_double_fast_s8(int32_t acc, int32_t mult, int32_t khi, int32_t sh, int32_t zp) {
  int32_t lo, hi;
  __asm__("and %[lo], %[acc], #0x80000000\n\t"
          "orr %[lo], %[lo], #0x40000000\n\t"
          "add %[hi], %[kh], %[acc], asr #31\n\t"
          "smlal %[lo], %[hi], %[acc], %[m]\n\t"
          "asr %[hi], %[hi], %[sh]\n\t"
          "add %[hi], %[hi], %[zp]\n\t"
          "ssat %[hi], #8, %[hi]"
          : [lo] "=&r"(lo), [hi] "=&r"(hi)
          : [acc] "r"(acc), [m] "r"(mult), [kh] "r"(khi), [sh] "r"(sh), [zp] "r"(zp));
  return hi;
}

/* TM2_RQ_SINGLE_FAST saturated to int8. */
static inline int32_t tm2_rq_single_fast_s8(int32_t acc, const tm2_rq *q) {
  uint32_t lo = q->lo;
  int32_t hi = q->hi;
  __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(acc), "r"(q->mult));
  return __ssat(hi >> q->sh, 8);
}
#endif

/* TM2_RQ_HIGHMUL_E of a scaled sum acc2k (record (m, hz', E)), not yet saturated: SMMLA(acc2k, m, hz') >> E. The
 * build checks that the high word of the 64-bit sum fits int32. */
static inline int32_t tm2_rq_highmul_e(int32_t acc2k, int32_t m, int32_t hz, int32_t e) {
  return (int32_t)(((int64_t)acc2k * m + (int64_t)hz * ((int64_t)1 << 32)) >> 32) >> e;
}

/* TM2_RQ_HIGHMUL on an undoubled sum acc (tm2_rq entry (m, hz, unused, e); the 3x3 depthwise kernels):
 * acc2 = 2 acc (wrapping: only constant channels, m = 0, can have |2 acc| >= 2^31, and their record
 * (0, 2k + 1, -, 1) gives k for either sign correction), then the TM2_RQ_HIGHMUL form above. */
static inline int32_t tm2_rq_highmul(int32_t acc, const tm2_rq *q) {
  const int32_t acc2 = (int32_t)((uint32_t)acc << 1);
  const int32_t v = (int32_t)(((int64_t)acc2 * q->mult + ((int64_t)1 << 31)) >> 32);
  return (int32_t)((uint32_t)v + (uint32_t)q->hi + (uint32_t)(acc2 >> 31)) >> q->sh;
}

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
/* tm2_rq_highmul saturated to int8 (the output offset is in hz): ADD, SMMLAR, ADD, ASR, SSAT. */
static inline int32_t tm2_rq_highmul_s8(int32_t acc, int32_t m, int32_t hz, int32_t e) {
  int32_t v;
  __asm__("add %[a], %[a], %[a]\n\t"
          "smmlar %[v], %[a], %[m], %[hz]\n\t"
          "add %[v], %[v], %[a], asr #31\n\t"
          "asr %[v], %[v], %[e]\n\t"
          "ssat %[v], #8, %[v]"
          : [v] "=&r"(v), [a] "+r"(acc)
          : [m] "r"(m), [hz] "r"(hz), [e] "r"(e));
  return v;
}

/* The same without the sign correction, for an output offset of -128 and the full int8 range (a negative
 * sum gives at most -128 either way; see TM2_RQ_HIGHMUL above). */
static inline int32_t tm2_rq_highmul_low_s8(int32_t acc, int32_t m, int32_t hz, int32_t e) {
  int32_t v;
  __asm__("add %[v], %[a], %[a]\n\t"
          "smmlar %[v], %[v], %[m], %[hz]\n\t"
          "asr %[v], %[v], %[e]\n\t"
          "ssat %[v], #8, %[v]"
          : [v] "=&r"(v)
          : [a] "r"(acc), [m] "r"(m), [hz] "r"(hz), [e] "r"(e));
  return v;
}

/* TM2_RQ_HIGHMUL of a sum that is already doubled (acc2 = 2 acc: the ADD tables of tm2_elementwise.c), saturated
 * to int8: SMMLAR, ADD, ASR, SSAT; the _low form leaves the sign correction (ADD) out, for an output offset of
 * -128 and the full int8 range. */
static inline int32_t tm2_rq_highmul2_s8(int32_t acc2, int32_t m, int32_t hz, int32_t e) {
  int32_t v;
  __asm__("smmlar %[v], %[a], %[m], %[hz]\n\t"
          "add %[v], %[v], %[a], asr #31\n\t"
          "asr %[v], %[v], %[e]\n\t"
          "ssat %[v], #8, %[v]"
          : [v] "=&r"(v)
          : [a] "r"(acc2), [m] "r"(m), [hz] "r"(hz), [e] "r"(e));
  return v;
}

static inline int32_t tm2_rq_highmul2_low_s8(int32_t acc2, int32_t m, int32_t hz, int32_t e) {
  int32_t v;
  __asm__("smmlar %[v], %[a], %[m], %[hz]\n\t"
          "asr %[v], %[v], %[e]\n\t"
          "ssat %[v], #8, %[v]"
          : [v] "=&r"(v)
          : [a] "r"(acc2), [m] "r"(m), [hz] "r"(hz), [e] "r"(e));
  return v;
}

/* tm2_rq_highmul_e saturated to int8 with E from the record (a register): SMMLA, ASR, SSAT. */
static inline int32_t tm2_rq_highmul_e_s8(int32_t acc2k, int32_t m, int32_t hz, int32_t e) {
  int32_t v;
  __asm__("smmla %[v], %[a], %[m], %[hz]\n\t"
          "asr %[v], %[v], %[e]\n\t"
          "ssat %[v], #8, %[v]"
          : [v] "=&r"(v)
          : [a] "r"(acc2k), [m] "r"(m), [hz] "r"(hz), [e] "r"(e));
  return v;
}
#endif

/* acc -> requantised value plus output offset (not yet clamped), in any of the five modes. */
static inline int32_t tm2_rq_apply(int32_t acc, const tm2_rq *q, int32_t mode, int32_t output_offset) {
  switch (mode) {
#ifndef TM2_RQ_NO_HIGHMUL /* a kernel whose tables are never TM2_RQ_HIGHMUL may leave the case out */
    case TM2_RQ_HIGHMUL:
      return tm2_rq_highmul(acc, q);
#endif
    case TM2_RQ_DOUBLE_FAST:
      return tm2_rq_double_fast(acc, q, output_offset);
    case TM2_RQ_SINGLE_FAST:
      return tm2_rq_single_fast(acc, q);
    case TM2_RQ_SINGLE:
      return tm2_mbqm_single(acc, q->mult, q->sh) + output_offset;
    default:
      return tm2_mbqm(acc, q->mult, q->sh) + output_offset;
  }
}

#endif
