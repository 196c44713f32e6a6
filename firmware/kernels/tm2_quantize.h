/* Edge conversions and copies: float32 -> int8 (QUANTIZE), int8 -> int8 (QUANTIZE as requantize),
 * int8 -> float32 (DEQUANTIZE), and the byte copy behind RESHAPE / SQUEEZE.
 *
 * The float paths use IEEE single-precision operations only (build with -ffp-contract=off), which
 * give the same bits as TFLite's reference kernels:
 *   quantize:   q = clamp(round_half_away(x / scale) + zero_point)        (AffineQuantize)
 *   dequantize: x = scale * (float)(q - zero_point)                         (exact product, one rounding)
 * Hand-written for tinym2net. */
#ifndef TM2_QUANTIZE_H
#define TM2_QUANTIZE_H
#include <stdint.h>

/* Round half away from zero to an integer (std::round, then a cast), without libm.
 * For |x| < 2^23 the fraction x - trunc(x) is computed exactly; larger floats are integers already.
 * Values beyond +-2^30 and NaN saturate (to +2^30 / -2^30), where TFLite's cast would be undefined;
 * every caller clamps to an 8-bit range afterwards. */
static inline int32_t tm2_round_f32(float x) {
  if (!(x > -1073741824.0f)) return -1073741824;
  if (x > 1073741824.0f) return 1073741824;
  int32_t i = (int32_t)x;
  const float frac = x - (float)i;
  if (frac >= 0.5f) i += 1;
  if (frac <= -0.5f) i -= 1;
  return i;
}

typedef struct {
  float scale;        /* output scale, float32 exactly as in the model */
  int32_t zero_point; /* output zero point */
  int32_t size;       /* number of elements */
} tm2_quantize_params;

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier; /* Q31 of input_scale / output_scale */
  int32_t shift;      /* > 0 is a left shift */
  int32_t size;
} tm2_requantize_params;

typedef struct {
  float scale;        /* input scale, float32 exactly as in the model */
  int32_t zero_point; /* input zero point */
  int32_t size;
} tm2_dequantize_params;

void tm2_quantize_f32_s8(const tm2_quantize_params *p, const float *in, int8_t *out);
void tm2_requantize_s8(const tm2_requantize_params *p, const int8_t *in, int8_t *out);
void tm2_dequantize_s8_f32(const tm2_dequantize_params *p, const int8_t *in, float *out);
/* memmove semantics; does nothing when dst == src (the planner may alias RESHAPE / SQUEEZE). */
void tm2_copy(void *dst, const void *src, int32_t nbytes);

#endif
