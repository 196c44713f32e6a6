/* tinym2net: what the packed-weight kernels (tm2_conv_dsp.c, tm2_dw_dsp.c) share. Hand-written, C99.
 * TM2_CONV_USE_DSP is 1 where the core has the DSP extension (and TM2_PORTABLE is not defined), 0 otherwise. */
#ifndef TM2_DSP_COMMON_H
#define TM2_DSP_COMMON_H
#include <stdint.h>

#include "tm2_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#define TM2_CONV_USE_DSP 1
#include <arm_acle.h>
#else
#define TM2_CONV_USE_DSP 0
#endif

static inline int8_t tm2_store_clamped(int32_t v, int32_t act_min, int32_t act_max) {
  return (int8_t)tm2_clamp_i32(v, act_min, act_max);
}

#if TM2_CONV_USE_DSP
/* (a + sign-extended bytes 1 and 3 of x) per int16 lane. */
static inline uint32_t tm2_sxtab16_ror8(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}
#endif

/* Halfword multiply-accumulates: SMLAD, SMLABT, SMLATB or their C equivalents. */
#if TM2_CONV_USE_DSP
#define tm2_dot2(x, w, acc) __smlad((x), (w), (acc))
#define tm2_mac_bt(x, w, acc) __smlabt((int32_t)(x), (int32_t)(w), (acc))
#define tm2_mac_tb(x, w, acc) __smlatb((int32_t)(x), (int32_t)(w), (acc))
#else
static inline int32_t tm2_lo16(uint32_t v) { return (int16_t)(v & 0xFFFFu); }
static inline int32_t tm2_hi16(uint32_t v) { return (int16_t)(v >> 16); }
static inline int32_t tm2_dot2(uint32_t x, uint32_t w, int32_t acc) {
  return acc + tm2_lo16(x) * tm2_lo16(w) + tm2_hi16(x) * tm2_hi16(w);
}
static inline int32_t tm2_mac_bt(uint32_t x, uint32_t w, int32_t acc) { return acc + tm2_lo16(x) * tm2_hi16(w); }
static inline int32_t tm2_mac_tb(uint32_t x, uint32_t w, int32_t acc) { return acc + tm2_hi16(x) * tm2_lo16(w); }
#endif

#endif
