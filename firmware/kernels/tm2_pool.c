/* tinym2net int8 pooling kernels: see tm2_pool.h for the arithmetic. Hand-written, C99, no heap. */
#include "tm2_pool.h"

#include <stddef.h>

#include "tm2_fixedpoint.h"

/* The in-bounds part [start, end) of a window of `size` taps starting at input coordinate `origin`. */
static inline void tm2_pool_window(int32_t origin, int32_t size, int32_t extent, int32_t *start, int32_t *end) {
  *start = tm2_max_i32(0, -origin);
  *end = tm2_min_i32(size, extent - origin);
}

/* The window loop of both kernels: every output pixel's window, clipped to the input, reduced channel by
 * channel (is_max: the maximum; else the rounded average), then clamped. Each kernel passes a constant. */
TM2_ALWAYS_INLINE void tm2_pool2d(const tm2_pool_params *p, const int8_t *input, int8_t *output, int is_max) {
  const int32_t c_n = p->channels;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * c_n;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      int32_t fy0, fy1;
      tm2_pool_window(iy0, p->filter_h, p->in_h, &fy0, &fy1);
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int32_t fx0, fx1;
        tm2_pool_window(ix0, p->filter_w, p->in_w, &fx0, &fx1);
        int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * c_n;
        for (int32_t c = 0; c < c_n; ++c) {
          int32_t acc = is_max ? INT8_MIN : 0;
          int32_t count = 0;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const int32_t v = in_b[((size_t)(iy0 + fy) * p->in_w + (ix0 + fx)) * c_n + c];
              if (is_max) {
                acc = tm2_max_i32(acc, v);
              } else {
                acc += v;
                ++count;
              }
            }
          }
          /* count is >= 1 for every window TFLite's padding can produce; guard anyway. */
          if (!is_max && count > 0) {
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          out[c] = (int8_t)tm2_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tm2_avg_pool2d_s8(const tm2_pool_params *p, const int8_t *input, int8_t *output) {
  tm2_pool2d(p, input, output, 0);
}

void tm2_max_pool2d_s8(const tm2_pool_params *p, const int8_t *input, int8_t *output) {
  tm2_pool2d(p, input, output, 1);
}
