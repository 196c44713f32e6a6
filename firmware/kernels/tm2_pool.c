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

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#include <arm_acle.h>
#include <string.h>

/* Global average pooling (one output pixel whose window is the whole input, no padding) of a channel count
 * that is a multiple of eight over at most 255 pixels: eight channels at a time, two words per pixel summed
 * into 16-bit lanes by SXTAB16 (|sum| <= 255 * 128 < 2^15, so the lanes hold the exact sums), then TFLite's
 * rounded division. Returns 0 (nothing written) for other shapes. */
static int tm2_avg_pool_global(const tm2_pool_params *p, const int8_t *input, int8_t *output) {
  const int32_t count = p->in_h * p->in_w, c_n = p->channels;
  if (p->out_h != 1 || p->out_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->filter_h != p->in_h ||
      p->filter_w != p->in_w || (c_n & 7) != 0 || count > 255) {
    return 0;
  }
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * count * c_n;
    int8_t *out = output + (size_t)b * c_n;
    for (int32_t c0 = 0; c0 < c_n; c0 += 8) {
      uint32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0; /* lanes (c, c+2), (c+1, c+3), (c+4, c+6), (c+5, c+7) */
      const int8_t *src = in_b + c0;
      for (int32_t i = 0; i < count; ++i, src += c_n) {
        uint32_t w0, w1;
        memcpy(&w0, src, 4);
        memcpy(&w1, src + 4, 4);
        e0 = __sxtab16(e0, w0);
        o0 = __sxtab16(o0, (w0 >> 8) | (w0 << 24));
        e1 = __sxtab16(e1, w1);
        o1 = __sxtab16(o1, (w1 >> 8) | (w1 << 24));
      }
      const int32_t sums[8] = {(int16_t)e0, (int16_t)o0, (int16_t)(e0 >> 16), (int16_t)(o0 >> 16),
                               (int16_t)e1, (int16_t)o1, (int16_t)(e1 >> 16), (int16_t)(o1 >> 16)};
      for (int32_t k = 0; k < 8; ++k) {
        const int32_t acc = sums[k];
        const int32_t avg = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        out[c0 + k] = (int8_t)tm2_clamp_i32(avg, p->act_min, p->act_max);
      }
    }
  }
  return 1;
}
#endif

void tm2_avg_pool2d_s8(const tm2_pool_params *p, const int8_t *input, int8_t *output) {
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
  if (tm2_avg_pool_global(p, input, output)) return;
#endif
  tm2_pool2d(p, input, output, 0);
}

void tm2_max_pool2d_s8(const tm2_pool_params *p, const int8_t *input, int8_t *output) {
  tm2_pool2d(p, input, output, 1);
}
