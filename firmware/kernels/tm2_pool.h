/* tinym2net int8 pooling kernels (AVERAGE_POOL_2D, MAX_POOL_2D): portable reference versions.
 * Hand-written for tinym2net. Bit-exact with TFLite's reference integer AveragePool / MaxPool:
 * the window is clipped to the input (padding taps are neither summed nor counted); the average
 * rounds half away from zero, (sum +/- count/2) / count with C truncating division; the result is
 * clamped to [act_min, act_max]. Input and output share scale and zero point (no requantisation).
 * Layout NHWC. No heap, no state. */
#ifndef TM2_POOL_H
#define TM2_POOL_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches;
  int32_t in_h, in_w;
  int32_t channels;
  int32_t out_h, out_w;
  int32_t filter_h, filter_w;
  int32_t stride_h, stride_w;
  int32_t pad_h, pad_w;
  int32_t act_min, act_max;
} tm2_pool_params;

void tm2_avg_pool2d_s8(const tm2_pool_params *p, const int8_t *input, int8_t *output);
void tm2_max_pool2d_s8(const tm2_pool_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
