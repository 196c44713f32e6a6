/* tinym2net int8 MEAN over constant axes (rank <= 4). Hand-written for tinym2net; bit-exact with TFLite's
 * reference_ops::QuantizedMeanOrSum, which both LiteRT's BUILTIN_REF resolver and TFLite Micro use for int8
 * MEAN (including the global-average-pooling case, MEAN over H and W of NHWC, keep_dims or not).
 *
 * For every output element: sum = sum of the n = num_elements inputs it reduces (int32),
 *   out = clamp(MultiplyByQuantizedMultiplier(sum - input_zero_point * n, multiplier, shift)
 *               + output_zero_point, -128, 127),
 * where multiplier / shift already hold input_scale / output_scale / n (computed at build time exactly as
 * TFLite does at run time). Outputs are written in row-major order of the kept axes, which is the layout of
 * the output tensor with or without keep_dims. No heap, no state, no scratch. */
#ifndef TM2_MEAN_H
#define TM2_MEAN_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t dims[4];      /* input shape, padded with leading 1s to rank 4 */
  int32_t reduce[4];    /* 1 where the axis is reduced, 0 where it is kept */
  int32_t num_elements; /* n: product of the reduced dimensions */
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier; /* input_scale / output_scale / n = multiplier * 2^(shift - 31) */
  int32_t shift;      /* > 0 is a left shift */
} tm2_mean_params;

/* MEAN, int8 input and output (any scales / zero points). */
void tm2_mean_s8(const tm2_mean_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
