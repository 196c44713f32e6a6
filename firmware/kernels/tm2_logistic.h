/* tinym2net int8 LOGISTIC (sigmoid). Hand-written for tinym2net; bit-exact with TFLite Micro's reference
 * kernel (reference_integer_ops::Logistic, gemmlowp fixed point). Output quantisation is fixed: scale 1/256,
 * zero point -128. No heap, no state; input == output (in place) is allowed.
 *
 *   x = input - input_zero_point;
 *   x <= -input_range_radius -> -128;  x >= input_range_radius -> 127;
 *   otherwise q = MultiplyByQuantizedMultiplier(x, input_multiplier, input_left_shift) is x * input_scale
 *   in Q4.27, s = logistic(q) in Q0 (gemmlowp), out = clamp(RoundingDivideByPOT(s, 23) - 128, -128, 127).
 *
 * LiteRT's BUILTIN_REF LOGISTIC instead looks results up in a table computed in float; the two agree on
 * most but not all inputs (see tinym2net/ops/logistic.py). */
#ifndef TM2_LOGISTIC_H
#define TM2_LOGISTIC_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t size;               /* number of elements */
  int32_t input_zero_point;
  int32_t input_range_radius; /* CalculateInputRadius(4, input_left_shift, 31) */
  int32_t input_multiplier;   /* input_scale * 2^27 = input_multiplier * 2^(input_left_shift - 31) */
  int32_t input_left_shift;
} tm2_logistic_params;

/* LOGISTIC, int8 input (any scale / zero point), int8 output (1/256, -128). */
void tm2_logistic_s8(const tm2_logistic_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
