/* tinym2net int8 pooling kernels: see tm2_pool.h for the arithmetic. Hand-written, C99, no heap. */
#include "tm2_pool.h"

#include <stddef.h>

#include "tm2_fixedpoint.h"

/* The in-bounds part [start, end) of a window of `size` taps starting at input coordinate `origin`. */
static inline void tm2_pool_window(int32_t origin, int32_t size, int32_t extent, int32_t *start, int32_t *end) {
  *start = tm2_max_i32(0, -origin);
  *end = tm2_min_i32(size, extent - origin);
}

/* TFLite's average of a sum of `count` values: the division rounded half away from zero. */
static inline int32_t tm2_avg_round(int32_t acc, int32_t count) {
  return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
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
          if (!is_max && count > 0) acc = tm2_avg_round(acc, count);
          out[c] = (int8_t)tm2_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)

/* TFLite's rounded average (tm2_avg_round) of an exact sum |acc| <= 255 * 128 of `count` <= 255 int8 values, as a
 * multiply and a shift instead of a division: n = |acc| + count / 2 < 2^15, and with l = ceil(log2 count),
 * m = ceil(2^(15 + l) / count) (at most 2^16), floor(n / count) = (n * m) >> (15 + l) for every n < 2^15
 * (Granlund and Montgomery 1994: m * count - 2^(15 + l) < count <= 2^l); n * m < 2^31. The sign goes back on
 * after (TFLite divides toward zero). */
typedef struct {
  uint32_t m, shift, half;
  int32_t act_min, act_max;
} tm2_avg_div;

static tm2_avg_div tm2_avg_div_for(const tm2_pool_params *p, int32_t count) {
  uint32_t l = 0;
  while ((1 << l) < count) ++l;
  const uint32_t shift = 15 + l;
  return (tm2_avg_div){((1u << shift) + (uint32_t)count - 1) / (uint32_t)count, shift, (uint32_t)count / 2,
                       p->act_min, p->act_max};
}

static inline int8_t tm2_avg_out(tm2_avg_div d, int32_t acc) {
  const int32_t sign = acc >> 31; /* 0 or -1 */
  const uint32_t n = (uint32_t)((acc ^ sign) - sign) + d.half;
  const int32_t q = (int32_t)((n * d.m) >> d.shift);
  return (int8_t)tm2_clamp_i32((q ^ sign) - sign, d.act_min, d.act_max);
}

/* Eight channels' sums in the 16-bit lanes of e (c, c+2), o (c+1, c+3) of the first word and of e1, o1 for the
 * second: the channel order of the outputs. The divisor is copied in first: the byte stores could alias it. */
static inline void tm2_avg_out8(const tm2_avg_div *div, uint32_t e0, uint32_t o0, uint32_t e1, uint32_t o1,
                                int8_t *out) {
  const tm2_avg_div d = *div;
  out[0] = tm2_avg_out(d, (int16_t)e0);
  out[1] = tm2_avg_out(d, (int16_t)o0);
  out[2] = tm2_avg_out(d, (int16_t)(e0 >> 16));
  out[3] = tm2_avg_out(d, (int16_t)(o0 >> 16));
  out[4] = tm2_avg_out(d, (int16_t)e1);
  out[5] = tm2_avg_out(d, (int16_t)o1);
  out[6] = tm2_avg_out(d, (int16_t)(e1 >> 16));
  out[7] = tm2_avg_out(d, (int16_t)(o1 >> 16));
}

/* Global average pooling (one output pixel whose window is the whole input, no padding) of a channel count
 * that is a multiple of eight over at most 255 pixels: each input word of four channels is summed into two
 * words of 16-bit lanes by SXTAB16 and SXTAB16 of the word rotated by 8 (|sum| <= 255 * 128 < 2^15, so the
 * lanes hold the exact sums), then TFLite's rounded division (tm2_avg_out). Sixteen channels a pass (four words a pixel
 * into eight sums: the loop's pointer step and branch shared by twice the work) while at least sixteen are
 * left, then eight. Returns 0 (nothing written) for other shapes. */
static int tm2_avg_pool_global(const tm2_pool_params *p, const int8_t *input, int8_t *output) {
  const int32_t count = p->in_h * p->in_w, c_n = p->channels;
  if (p->out_h != 1 || p->out_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->filter_h != p->in_h ||
      p->filter_w != p->in_w || (c_n & 7) != 0 || count < 1 || count > 255) {
    return 0;
  }
  const tm2_avg_div d = tm2_avg_div_for(p, count);
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * count * c_n;
    int8_t *out = output + (size_t)b * c_n;
    int32_t c0 = 0;
    for (; c0 + 16 <= c_n; c0 += 16) {
      uint32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0, e2 = 0, o2 = 0, e3 = 0, o3 = 0;
      const int8_t *src = in_b + c0;
      int32_t left = count;
      /* per pixel: three words in a run of loads, six SXTAB16, the fourth word, two more; 14 registers */
      __asm__ volatile(
          "1:\n\t"
          "ldr r0, [%[s]]\n\t"
          "ldr r1, [%[s], #4]\n\t"
          "ldr r2, [%[s], #8]\n\t"
          "sxtab16 %[e0], %[e0], r0\n\t"
          "sxtab16 %[o0], %[o0], r0, ror #8\n\t"
          "sxtab16 %[e1], %[e1], r1\n\t"
          "sxtab16 %[o1], %[o1], r1, ror #8\n\t"
          "sxtab16 %[e2], %[e2], r2\n\t"
          "sxtab16 %[o2], %[o2], r2, ror #8\n\t"
          "ldr r0, [%[s], #12]\n\t"
          "add %[s], %[s], %[cn]\n\t"
          "sxtab16 %[e3], %[e3], r0\n\t"
          "sxtab16 %[o3], %[o3], r0, ror #8\n\t"
          "subs %[n], %[n], #1\n\t"
          "bne 1b\n\t"
          : [e0] "+r"(e0), [o0] "+r"(o0), [e1] "+r"(e1), [o1] "+r"(o1), [e2] "+r"(e2), [o2] "+r"(o2),
            [e3] "+r"(e3), [o3] "+r"(o3), [s] "+r"(src), [n] "+r"(left)
          : [cn] "r"(c_n)
          : "r0", "r1", "r2", "cc", "memory");
      tm2_avg_out8(&d, e0, o0, e1, o1, out + c0);
      tm2_avg_out8(&d, e2, o2, e3, o3, out + c0 + 8);
    }
    for (; c0 < c_n; c0 += 8) {
      uint32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0;
      const int8_t *src = in_b + c0;
      int32_t left = count;
      __asm__ volatile(
          "1:\n\t"
          "ldr r0, [%[s]]\n\t"
          "ldr r1, [%[s], #4]\n\t"
          "add %[s], %[s], %[cn]\n\t"
          "sxtab16 %[e0], %[e0], r0\n\t"
          "sxtab16 %[o0], %[o0], r0, ror #8\n\t"
          "sxtab16 %[e1], %[e1], r1\n\t"
          "sxtab16 %[o1], %[o1], r1, ror #8\n\t"
          "subs %[n], %[n], #1\n\t"
          "bne 1b\n\t"
          : [e0] "+r"(e0), [o0] "+r"(o0), [e1] "+r"(e1), [o1] "+r"(o1), [s] "+r"(src), [n] "+r"(left)
          : [cn] "r"(c_n)
          : "r0", "r1", "cc", "memory");
      tm2_avg_out8(&d, e0, o0, e1, o1, out + c0);
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
