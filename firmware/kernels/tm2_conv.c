/* tinym2net int8 convolution kernels: see tm2_conv.h for the arithmetic. Hand-written, C99, no heap.
 * The loop nests are in tm2_conv_loop.h (shared with the packed-int4 kernels of tm2_int4.c); this file
 * supplies their weight access for plain int8_t filters. */
#include "tm2_conv.h"

#include <stddef.h>

#include "tm2_conv_loop.h"

/* acc + sum_{k < n} filter[start + k] * (x[k] + offset). */
static inline int32_t tm2_dot_s8(int32_t acc, const void *filter, size_t start, const int8_t *x, int32_t n,
                                 int32_t offset) {
  const int8_t *w = (const int8_t *)filter + start;
  for (int32_t k = 0; k < n; ++k) {
    acc += (int32_t)w[k] * ((int32_t)x[k] + offset);
  }
  return acc;
}

/* filter[i .. i + lanes) into w. */
static inline void tm2_dw_fetch_s8(const void *filter, size_t i, int32_t lanes, int32_t w[2]) {
  const int8_t *f = (const int8_t *)filter + i;
  for (int32_t k = 0; k < lanes; ++k) w[k] = f[k];
}

void tm2_conv2d_s8(const tm2_conv_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *mult, const int32_t *shift, int8_t *output) {
  tm2_conv2d_loop(p, input, filter, tm2_dot_s8, 0, bias, NULL, mult, shift, output);
}

void tm2_depthwise_conv2d_s8(const tm2_dwconv_params *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
  tm2_dwconv2d_loop(p, input, filter, tm2_dw_fetch_s8, 0, bias, NULL, mult, shift, output);
}
