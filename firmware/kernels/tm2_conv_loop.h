/* tinym2net: the loop nests of CONV_2D and DEPTHWISE_CONV_2D, shared by the int8 reference kernels
 * (tm2_conv.c) and the packed-int4 kernels (tm2_int4.c). Hand-written, C99, header only, heap-free;
 * for those two files only (not part of the kernel API).
 *
 * The two kernels of each op differ only in how a weight is read, so the loops take the weight access
 * as a function (tm2_conv_dot_fn, tm2_dw_fetch_fn) and the filter as an opaque pointer. Each kernel
 * calls its loop once with constant functions, which the compiler inlines: no indirect calls remain.
 * The arithmetic is that of tm2_conv.h; the bias is an int32 array, an int16 array (tm2_int4.h), or none. */
#ifndef TM2_CONV_LOOP_H
#define TM2_CONV_LOOP_H
#include <stddef.h>
#include <stdint.h>

#include "tm2_conv.h"
#include "tm2_fixedpoint.h"

/* acc + sum_{k < n} w[start + k] * (x[k] + offset): n consecutive weights from flat index start of filter. */
typedef int32_t (*tm2_conv_dot_fn)(int32_t acc, const void *filter, size_t start, const int8_t *x, int32_t n,
                 int32_t offset);

/* The weights at flat indices i .. i + lanes - 1 (lanes 1 or 2) of a depthwise filter, into w[0 .. lanes). */
typedef void (*tm2_dw_fetch_fn)(const void *filter, size_t i, int32_t lanes, int32_t w[2]);

/* Bias of output channel c: int32 array, int16 array, or none. */
static inline int32_t tm2_conv_bias(const int32_t *bias, const int16_t *bias16, int32_t c) {
  if (bias != NULL) return bias[c];
  if (bias16 != NULL) return (int32_t)bias16[c];
  return 0;
}

/* Requantise one accumulator to int8: scale, add the output zero point, clamp. */
static inline int8_t tm2_conv_requant(int32_t acc, int32_t mult, int32_t shift, int32_t output_offset,
                                      int32_t act_min, int32_t act_max) {
  const int32_t v = tm2_mbqm(acc, mult, shift) + output_offset;
  return (int8_t)tm2_clamp_i32(v, act_min, act_max);
}

/* CONV_2D. merge_rows: when the filter spans all input channels and its taps are adjacent (groups == 1,
 * dilation_w == 1), a filter row wholly inside the input is one contiguous run of input and of weights,
 * taken as one dot of filter_w * in_c terms. That is the same sum in the same order, so only the speed
 * depends on it (the int4 dot wants long runs; the int8 reference keeps one dot per tap). */
TM2_ALWAYS_INLINE void tm2_conv2d_loop(const tm2_conv_params *p, const int8_t *input, const void *filter,
                                       tm2_conv_dot_fn dot, int merge_rows, const int32_t *bias, const int16_t *bias16,
                                       const int32_t *mult, const int32_t *shift, int8_t *output) {
  const int32_t groups = p->in_c / p->filter_in_c;
  const int32_t filters_per_group = p->out_c / groups;
  const int row_run = merge_rows && groups == 1 && p->dilation_w == 1;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        for (int32_t oc = 0; oc < p->out_c; ++oc) {
          const int32_t in_c0 = (oc / filters_per_group) * p->filter_in_c;
          const size_t f_oc = (size_t)oc * p->filter_h * p->filter_w * p->filter_in_c;
          int32_t acc = 0;
          for (int32_t fy = 0; fy < p->filter_h; ++fy) {
            const int32_t iy = iy0 + fy * p->dilation_h;
            if (iy < 0 || iy >= p->in_h) continue;
            if (row_run && ix0 >= 0 && ix0 + p->filter_w <= p->in_w) {
              const int8_t *x = in_b + ((size_t)iy * p->in_w + ix0) * p->in_c;
              const size_t start = f_oc + (size_t)fy * p->filter_w * p->filter_in_c;
              acc = dot(acc, filter, start, x, p->filter_w * p->in_c, p->input_offset);
              continue;
            }
            for (int32_t fx = 0; fx < p->filter_w; ++fx) {
              const int32_t ix = ix0 + fx * p->dilation_w;
              if (ix < 0 || ix >= p->in_w) continue;
              const int8_t *x = in_b + ((size_t)iy * p->in_w + ix) * p->in_c + in_c0;
              const size_t start = f_oc + ((size_t)fy * p->filter_w + fx) * p->filter_in_c;
              acc = dot(acc, filter, start, x, p->filter_in_c, p->input_offset);
            }
          }
          acc += tm2_conv_bias(bias, bias16, oc);
          out[oc] = tm2_conv_requant(acc, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}

/* One output pixel of a depthwise convolution: acc[k] += the sum over in-bounds taps for output channel
 * oc + k, k < lanes (1 or 2), whose input channels are ic0 and ic1. */
TM2_ALWAYS_INLINE void tm2_dw_taps(const tm2_dwconv_params *p, const int8_t *in_b, const void *filter,
                                   tm2_dw_fetch_fn fetch, int32_t iy0, int32_t ix0, int32_t oc, int32_t lanes,
                                   int32_t ic0, int32_t ic1, int32_t acc[2]) {
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= p->in_h) continue;
    for (int32_t fx = 0; fx < p->filter_w; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= p->in_w) continue;
      const int8_t *x = in_b + ((size_t)iy * p->in_w + ix) * p->in_c;
      int32_t w[2];
      fetch(filter, ((size_t)fy * p->filter_w + fx) * p->out_c + oc, lanes, w);
      acc[0] += w[0] * ((int32_t)x[ic0] + p->input_offset);
      if (lanes == 2) acc[1] += w[1] * ((int32_t)x[ic1] + p->input_offset);
    }
  }
}

/* out[c] of a depthwise convolution from the tap sum of output channel c. */
static inline void tm2_dw_store(const tm2_dwconv_params *p, int8_t *out, int32_t c, int32_t acc, const int32_t *bias,
                                const int16_t *bias16, const int32_t *mult, const int32_t *shift) {
  acc += tm2_conv_bias(bias, bias16, c);
  out[c] = tm2_conv_requant(acc, mult[c], shift[c], p->output_offset, p->act_min, p->act_max);
}

/* DEPTHWISE_CONV_2D. pairs: when out_c is even, take output channels two at a time (the packed int4
 * filter holds the two weights of a tap in one byte); otherwise, and when pairs is 0, one at a time. */
TM2_ALWAYS_INLINE void tm2_dwconv2d_loop(const tm2_dwconv_params *p, const int8_t *input, const void *filter,
                                         tm2_dw_fetch_fn fetch, int pairs, const int32_t *bias, const int16_t *bias16,
                                         const int32_t *mult, const int32_t *shift, int8_t *output) {
  const int32_t dm = p->depth_multiplier;
  const int lanes = (pairs && p->out_c % 2 == 0) ? 2 : 1;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        if (lanes == 2) {
          for (int32_t oc = 0; oc < p->out_c; oc += 2) {
            int32_t acc[2] = {0, 0};
            tm2_dw_taps(p, in_b, filter, fetch, iy0, ix0, oc, 2, oc / dm, (oc + 1) / dm, acc);
            tm2_dw_store(p, out, oc, acc[0], bias, bias16, mult, shift);
            tm2_dw_store(p, out, oc + 1, acc[1], bias, bias16, mult, shift);
          }
          continue;
        }
        for (int32_t ic = 0; ic < p->in_c; ++ic) {
          for (int32_t m = 0; m < dm; ++m) {
            const int32_t oc = ic * dm + m;
            int32_t acc[2] = {0, 0};
            tm2_dw_taps(p, in_b, filter, fetch, iy0, ix0, oc, 1, ic, ic, acc);
            tm2_dw_store(p, out, oc, acc[0], bias, bias16, mult, shift);
          }
        }
      }
    }
  }
}

#endif
