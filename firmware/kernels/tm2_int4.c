/* tinym2net kernels with packed int4 weights: see tm2_int4.h for the layout and the arithmetic.
 * Hand-written, C99, no heap, no state. */
#include "tm2_int4.h"

#include <stddef.h>

#include "tm2_conv_loop.h"
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

/* acc + sum_{k < n} w4[start + k] * (x[k] + offset), w4 the packed int4 filter: n consecutive weights
 * from flat index start (any parity), decoded one byte (two weights) at a time. Integer sums are exact
 * in any order, so the SIMD loop below gives the same int32 as the portable one.
 *
 * Cortex-M4 (DSP extension): four weights per step. Two bytes b0, b1 hold w0..w3 (low nibble first);
 * with t = v | v << 8 (v = b0 | b1 << 8), t & 0x000F000F has w0 and w2 in the two halfwords and
 * (t >> 4) & 0x000F000F has w1 and w3, still unsigned; (h ^ 8) - 8 per halfword (SSUB16) sign-extends
 * them. SXTAB16 adds the input offset to input bytes 0 and 2 (and, rotated by 8, 1 and 3) as int16
 * (|x + offset| <= 255), and SMLAD accumulates both products of a pair. */
static int32_t tm2_dot_s4(int32_t acc, const void *filter, size_t start, const int8_t *x, int32_t n,
                          int32_t offset) {
  const uint8_t *b = (const uint8_t *)filter + (start >> 1);
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

/* The weights at flat indices [i, i + lanes) of a packed depthwise filter: the tm2_dw_fetch_fn of the
 * loops in tm2_conv_loop.h (tm2_dot_s4 is their tm2_conv_dot_fn). With two lanes i is even (out_c is),
 * so both weights share one byte, low nibble first. */
static inline void tm2_dw_fetch_s4(const void *filter, size_t i, int32_t lanes, int32_t w[2]) {
  const uint8_t *f = (const uint8_t *)filter;
  if (lanes == 2) {
    const uint8_t v = f[i >> 1];
    w[0] = tm2_s4_lo(v);
    w[1] = tm2_s4_hi(v);
  } else {
    w[0] = tm2_s4_at(f, i);
  }
}

void tm2_conv2d_s4(const tm2_conv_params *p, const int8_t *input, const int8_t *filter_packed, const int32_t *bias,
                   const int16_t *bias16, const int32_t *mult, const int32_t *shift, int8_t *output) {
  /* whole in-bounds filter rows as one run: the SIMD dot wants long runs */
  tm2_conv2d_loop(p, input, filter_packed, tm2_dot_s4, 1, bias, bias16, mult, shift, output);
}

void tm2_depthwise_conv2d_s4(const tm2_dwconv_params *p, const int8_t *input, const int8_t *filter_packed,
                             const int32_t *bias, const int16_t *bias16, const int32_t *mult, const int32_t *shift,
                             int8_t *output) {
  /* two output channels per weight byte when out_c is even */
  tm2_dwconv2d_loop(p, input, filter_packed, tm2_dw_fetch_s4, 1, bias, bias16, mult, shift, output);
}

void tm2_fully_connected_s4(const tm2_fc_params *p, const int8_t *input, const int8_t *filter_packed,
                            const int32_t *bias, const int16_t *bias16, const int32_t *mult, const int32_t *shift,
                            int8_t *output) {
  const uint8_t *w = (const uint8_t *)filter_packed;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = input + (size_t)b * p->accum_depth;
    int8_t *out = output + (size_t)b * p->out_depth;
    for (int32_t o = 0; o < p->out_depth; ++o) {
      int32_t acc = tm2_dot_s4(0, w, (size_t)o * p->accum_depth, x, p->accum_depth, p->input_offset);
      acc += tm2_conv_bias(bias, bias16, o);
      const int32_t k = p->per_channel ? o : 0;
      const int32_t scaled =
          p->single_rounding ? tm2_mbqm_single(acc, mult[k], shift[k]) : tm2_mbqm(acc, mult[k], shift[k]);
      out[o] = (int8_t)tm2_clamp_i32(scaled + p->output_offset, p->act_min, p->act_max);
    }
  }
}
