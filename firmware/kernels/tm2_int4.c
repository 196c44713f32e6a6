/* tinym2net kernels with packed int4 weights: see tm2_int4.h for the layout and the arithmetic.
 * Hand-written, C99, no heap, no state. */
#include "tm2_int4.h"

#include <stddef.h>

#include "tm2_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#include <arm_acle.h>
#include <string.h>
#define TM2_S4_SIMD 1
#endif

/* Sign-extend a nibble: (v ^ 8) - 8 maps 0..7 to 0..7 and 8..15 to -8..-1 without implementation-defined
 * conversions. */
static inline int32_t tm2_s4_lo(uint8_t b) { return ((int32_t)(b & 0x0Fu) ^ 8) - 8; }
static inline int32_t tm2_s4_hi(uint8_t b) { return ((int32_t)(b >> 4) ^ 8) - 8; }

/* Element i of a packed int4 tensor. */
static inline int32_t tm2_s4_at(const uint8_t *w, size_t i) {
  const uint8_t b = w[i >> 1];
  return (i & 1u) ? tm2_s4_hi(b) : tm2_s4_lo(b);
}

/* sum_{k < n} w4[start + k] * (x[k] + offset): n consecutive weights from flat index start (any parity),
 * decoded one byte (two weights) at a time. Integer sums are exact in any order, so the SIMD loop below
 * gives the same int32 as the portable one.
 *
 * Cortex-M4 (DSP extension): four weights per step. Two bytes b0, b1 hold w0..w3 (low nibble first);
 * with t = v | v << 8 (v = b0 | b1 << 8), t & 0x000F000F has w0 and w2 in the two halfwords and
 * (t >> 4) & 0x000F000F has w1 and w3, still unsigned; (h ^ 8) - 8 per halfword (SSUB16) sign-extends
 * them. SXTAB16 adds the input offset to input bytes 0 and 2 (and, rotated by 8, 1 and 3) as int16
 * (|x + offset| <= 255), and SMLAD accumulates both products of a pair. */
static int32_t tm2_dot_s4(const uint8_t *w, size_t start, const int8_t *x, int32_t n, int32_t offset) {
  const uint8_t *b = w + (start >> 1);
  int32_t acc = 0;
  int32_t k = 0;
  if ((start & 1u) != 0 && n > 0) {
    acc += tm2_s4_hi(*b++) * ((int32_t)x[0] + offset);
    k = 1;
  }
#ifdef TM2_S4_SIMD
  {
    const int32_t off2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
    const int32_t eight = 0x00080008;
    for (; k + 3 < n; k += 4) {
      uint32_t xw;
      memcpy(&xw, x + k, sizeof xw);
      const int32_t x02 = __sxtab16(off2, (int32_t)xw);
      const int32_t x13 = __sxtab16(off2, (int32_t)((xw >> 8) | (xw << 24)));
      const uint32_t v = (uint32_t)b[0] | ((uint32_t)b[1] << 8);
      const uint32_t t = v | (v << 8);
      b += 2;
      const int32_t w02 = __ssub16((int32_t)((t & 0x000F000Fu) ^ 0x00080008u), eight);
      const int32_t w13 = __ssub16((int32_t)(((t >> 4) & 0x000F000Fu) ^ 0x00080008u), eight);
      acc = __smlad(w02, x02, acc);
      acc = __smlad(w13, x13, acc);
    }
  }
#endif
  for (; k + 1 < n; k += 2) {
    const uint8_t v = *b++;
    acc += tm2_s4_lo(v) * ((int32_t)x[k] + offset);
    acc += tm2_s4_hi(v) * ((int32_t)x[k + 1] + offset);
  }
  if (k < n) acc += tm2_s4_lo(*b) * ((int32_t)x[k] + offset);
  return acc;
}

/* Bias of output channel c: int32 array, int16 array, or none (see tm2_int4.h). */
static inline int32_t tm2_s4_bias(const int32_t *bias, const int16_t *bias16, int32_t c) {
  if (bias != NULL) return bias[c];
  if (bias16 != NULL) return (int32_t)bias16[c];
  return 0;
}

static inline int8_t tm2_s4_requant(int32_t acc, int32_t mult, int32_t shift, int32_t output_offset,
                                    int32_t act_min, int32_t act_max) {
  const int32_t v = tm2_mbqm(acc, mult, shift) + output_offset;
  return (int8_t)tm2_clamp_i32(v, act_min, act_max);
}

void tm2_conv2d_s4(const tm2_conv_params *p, const int8_t *input, const int8_t *filter_packed, const int32_t *bias,
                   const int16_t *bias16, const int32_t *mult, const int32_t *shift, int8_t *output) {
  const uint8_t *w = (const uint8_t *)filter_packed;
  const int32_t groups = p->in_c / p->filter_in_c;
  const int32_t filters_per_group = p->out_c / groups;
  /* a filter row's taps are contiguous in the input too when the filter spans all input channels and
   * taps are adjacent (no dilation along the width) */
  const int row_run = groups == 1 && p->dilation_w == 1;
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
            const int8_t *x_row = in_b + (size_t)iy * p->in_w * p->in_c;
            const size_t f_row = f_oc + (size_t)fy * p->filter_w * p->filter_in_c;
            if (row_run && ix0 >= 0 && ix0 + p->filter_w <= p->in_w) {
              /* the whole filter row is in bounds: input and weights are both one contiguous run */
              acc += tm2_dot_s4(w, f_row, x_row + (size_t)ix0 * p->in_c, p->filter_w * p->in_c, p->input_offset);
              continue;
            }
            for (int32_t fx = 0; fx < p->filter_w; ++fx) {
              const int32_t ix = ix0 + fx * p->dilation_w;
              if (ix < 0 || ix >= p->in_w) continue;
              const int8_t *x = x_row + (size_t)ix * p->in_c + in_c0;
              const size_t start = f_row + (size_t)fx * p->filter_in_c;
              acc += tm2_dot_s4(w, start, x, p->filter_in_c, p->input_offset);
            }
          }
          acc += tm2_s4_bias(bias, bias16, oc);
          out[oc] = tm2_s4_requant(acc, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}

/* One output pixel of a depthwise convolution for output channels [oc, oc + 2) when out_c is even: the
 * two weights of a tap share one byte (the tap's row starts at an even flat index), low nibble first. */
static void tm2_dw_s4_pair(const tm2_dwconv_params *p, const int8_t *in_b, const uint8_t *w, int32_t iy0,
                           int32_t ix0, int32_t oc, int32_t acc[2]) {
  const int32_t ic0 = oc / p->depth_multiplier;
  const int32_t ic1 = (oc + 1) / p->depth_multiplier;
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= p->in_h) continue;
    for (int32_t fx = 0; fx < p->filter_w; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= p->in_w) continue;
      const int8_t *x = in_b + ((size_t)iy * p->in_w + ix) * p->in_c;
      const uint8_t v = w[(((size_t)fy * p->filter_w + fx) * p->out_c + oc) >> 1];
      acc[0] += tm2_s4_lo(v) * ((int32_t)x[ic0] + p->input_offset);
      acc[1] += tm2_s4_hi(v) * ((int32_t)x[ic1] + p->input_offset);
    }
  }
}

/* Same for one output channel, any out_c (weights fetched one nibble at a time). */
static int32_t tm2_dw_s4_one(const tm2_dwconv_params *p, const int8_t *in_b, const uint8_t *w, int32_t iy0,
                             int32_t ix0, int32_t oc) {
  const int32_t ic = oc / p->depth_multiplier;
  int32_t acc = 0;
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= p->in_h) continue;
    for (int32_t fx = 0; fx < p->filter_w; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= p->in_w) continue;
      const int32_t x = in_b[((size_t)iy * p->in_w + ix) * p->in_c + ic];
      acc += tm2_s4_at(w, ((size_t)fy * p->filter_w + fx) * p->out_c + oc) * (x + p->input_offset);
    }
  }
  return acc;
}

void tm2_depthwise_conv2d_s4(const tm2_dwconv_params *p, const int8_t *input, const int8_t *filter_packed,
                             const int32_t *bias, const int16_t *bias16, const int32_t *mult, const int32_t *shift,
                             int8_t *output) {
  const uint8_t *w = (const uint8_t *)filter_packed;
  const int32_t paired = (p->out_c % 2 == 0) ? p->out_c : 0;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        int32_t oc = 0;
        for (; oc < paired; oc += 2) {
          int32_t acc[2] = {0, 0};
          tm2_dw_s4_pair(p, in_b, w, iy0, ix0, oc, acc);
          for (int32_t k = 0; k < 2; ++k) {
            const int32_t c = oc + k;
            const int32_t a = acc[k] + tm2_s4_bias(bias, bias16, c);
            out[c] = tm2_s4_requant(a, mult[c], shift[c], p->output_offset, p->act_min, p->act_max);
          }
        }
        for (; oc < p->out_c; ++oc) {
          const int32_t a = tm2_dw_s4_one(p, in_b, w, iy0, ix0, oc) + tm2_s4_bias(bias, bias16, oc);
          out[oc] = tm2_s4_requant(a, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tm2_fully_connected_s4(const tm2_fc_params *p, const int8_t *input, const int8_t *filter_packed,
                            const int32_t *bias, const int16_t *bias16, const int32_t *mult, const int32_t *shift,
                            int8_t *output) {
  const uint8_t *w = (const uint8_t *)filter_packed;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = input + (size_t)b * p->accum_depth;
    int8_t *out = output + (size_t)b * p->out_depth;
    for (int32_t o = 0; o < p->out_depth; ++o) {
      int32_t acc = tm2_dot_s4(w, (size_t)o * p->accum_depth, x, p->accum_depth, p->input_offset);
      acc += tm2_s4_bias(bias, bias16, o);
      const int32_t k = p->per_channel ? o : 0;
      const int32_t scaled =
          p->single_rounding ? tm2_mbqm_single(acc, mult[k], shift[k]) : tm2_mbqm(acc, mult[k], shift[k]);
      out[o] = (int8_t)tm2_clamp_i32(scaled + p->output_offset, p->act_min, p->act_max);
    }
  }
}
