/* tinym2net int8 convolutions on packed weights (see tm2_conv_dsp.h for layouts and arithmetic).
 * Hand-written for tinym2net. C99, no heap, no state. */
#include "tm2_conv_dsp.h"

#include <stddef.h>
#include <string.h>

#include "tm2_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#define TM2_CONV_USE_DSP 1
#include <arm_acle.h>
#else
#define TM2_CONV_USE_DSP 0
#endif

/* Column position of tap k: bits 0 and 1 swapped, so each group of four reads k0, k2, k1, k3. */
static inline int32_t tm2_col_pos(int32_t k) { return (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1); }

/* int16 index of column position q of pixel slot s (0..3) in the interleaved column buffer. */
static inline int32_t tm2_col_index(int32_t q, int32_t slot) { return (q >> 1) * 8 + slot * 2 + (q & 1); }

static inline int8_t tm2_store_clamped(int32_t v, int32_t act_min, int32_t act_max) {
  return (int8_t)tm2_clamp_i32(v, act_min, act_max);
}

#if TM2_CONV_USE_DSP

/* (a + sign-extended bytes 1 and 3 of x) per int16 lane. */
static inline uint32_t tm2_sxtab16_ror8(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}

#endif

/* ------------------------------------------------------------------------------------------ im2col */

/* Words of the taps of output pixel (oy, ox) into column slot `slot`, in_c a multiple of 4 (see the
 * header for the order): each group of four input bytes widened with SXTAB16, zeros for padding taps. */
static void tm2_im2col_words(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                             uint32_t *col, int32_t slot) {
  const int32_t in_c = p->in_c;
  const int32_t off = p->input_offset;
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  int32_t k = 0;
#if TM2_CONV_USE_DSP
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  uint32_t *dst = col + slot;
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    const int row_ok = iy >= 0 && iy < p->in_h;
    for (int32_t fx = 0; fx < p->filter_w; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      if (row_ok && ix >= 0 && ix < p->in_w) {
        const int8_t *src = in_b + ((size_t)iy * p->in_w + ix) * in_c;
        for (int32_t q = 0; q < in_c; q += 4) {
          uint32_t x;
          memcpy(&x, src + q, 4);
          dst[0] = __sxtab16(off2, x);        /* taps k, k+2 */
          dst[4] = tm2_sxtab16_ror8(off2, x); /* taps k+1, k+3 */
          dst += 8;
        }
      } else {
        for (int32_t q = 0; q < in_c; q += 4) {
          dst[0] = 0;
          dst[4] = 0;
          dst += 8;
        }
      }
      k += in_c;
    }
  }
  for (; k < p->depth_padded; k += 4) {
    dst[0] = 0;
    dst[4] = 0;
    dst += 8;
  }
#else
  int16_t *col16 = (int16_t *)col;
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    const int row_ok = iy >= 0 && iy < p->in_h;
    for (int32_t fx = 0; fx < p->filter_w; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      const int ok = row_ok && ix >= 0 && ix < p->in_w;
      const int8_t *src = in_b + ((size_t)iy * p->in_w + ix) * in_c;
      for (int32_t q = 0; q < in_c; ++q, ++k) {
        col16[tm2_col_index(tm2_col_pos(k), slot)] = (int16_t)(ok ? src[q] + off : 0);
      }
    }
  }
  for (; k < p->depth_padded; ++k) col16[tm2_col_index(tm2_col_pos(k), slot)] = 0;
#endif
}

/* The Kp tap bytes of output pixel (oy, ox) in filter order [fy][fx][c]; padding taps and the Kp - K tail
 * get the input zero point (which widens to 0). Filter rows whose columns are all inside the input are
 * runs of filter_w * in_c contiguous bytes (dilation_w 1), copied a word at a time. */
static void tm2_gather_pixel(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                             int8_t *dst) {
  const int32_t in_c = p->in_c;
  const int8_t zp = (int8_t)(-p->input_offset);
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  const int32_t span = p->filter_w * in_c;
  const int8_t *end = dst + p->depth_padded;
  const int cols_in = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->filter_w <= p->in_w;
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    const int row_ok = iy >= 0 && iy < p->in_h;
    const int8_t *src_row = in_b + (size_t)iy * p->in_w * in_c;
    if (row_ok && cols_in) {
      const int8_t *src = src_row + (size_t)ix0 * in_c;
      int32_t q = 0;
      for (; q + 4 <= span; q += 4) {
        uint32_t x;
        memcpy(&x, src + q, 4);
        memcpy(dst + q, &x, 4);
      }
      for (; q < span; ++q) dst[q] = src[q];
      dst += span;
      continue;
    }
    for (int32_t fx = 0; fx < p->filter_w; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      if (row_ok && ix >= 0 && ix < p->in_w) {
        const int8_t *src = src_row + (size_t)ix * in_c;
        for (int32_t q = 0; q < in_c; ++q) *dst++ = src[q];
      } else {
        for (int32_t q = 0; q < in_c; ++q) *dst++ = zp;
      }
    }
  }
  while (dst != end) *dst++ = zp;
}

/* Widens four byte columns of n taps each (n a multiple of 4; column s at src + s * pstride) into the
 * interleaved column buffer, from the group at dst: per group of four taps, words 0..3 hold the pairs
 * (k0, k2) of the four columns and words 4..7 the pairs (k1, k3), input offset added. */
static void tm2_widen4(const int8_t *src, int32_t pstride, int32_t n, int32_t off, uint32_t *dst) {
#if TM2_CONV_USE_DSP
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int8_t *end = src + n;
  for (; src != end; src += 4, dst += 8) {
    uint32_t v0, v1, v2, v3;
    memcpy(&v0, src, 4);
    memcpy(&v1, src + pstride, 4);
    memcpy(&v2, src + 2 * pstride, 4);
    memcpy(&v3, src + 3 * pstride, 4);
    dst[0] = __sxtab16(off2, v0);
    dst[1] = __sxtab16(off2, v1);
    dst[2] = __sxtab16(off2, v2);
    dst[3] = __sxtab16(off2, v3);
    dst[4] = tm2_sxtab16_ror8(off2, v0);
    dst[5] = tm2_sxtab16_ror8(off2, v1);
    dst[6] = tm2_sxtab16_ror8(off2, v2);
    dst[7] = tm2_sxtab16_ror8(off2, v3);
  }
#else
  int16_t *col16 = (int16_t *)dst;
  for (int32_t s = 0; s < 4; ++s) {
    for (int32_t k = 0; k < n; ++k) col16[tm2_col_index(tm2_col_pos(k), s)] = (int16_t)(src[s * pstride + k] + off);
  }
#endif
}

/* The column block of output pixels pix0 .. pix0 + 3 (repeating the last pixel when fewer are left). */
static void tm2_im2col_block(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t pix0, int32_t npix,
                             uint32_t *col, int8_t *bytes) {
  const int32_t in_c = p->in_c;
  const int32_t kp = p->depth_padded;
  int32_t oy = pix0 / p->out_w, ox = pix0 % p->out_w;
  if ((in_c & 3) == 0 && npix == 4) {
    if (p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
        p->pad_w == 0 && p->in_w == p->out_w) {
      /* pointwise: four contiguous pixels */
      tm2_widen4(in_b + (size_t)pix0 * in_c, in_c, in_c, p->input_offset, col);
      return;
    }
    const int32_t iy0 = oy * p->stride_h - p->pad_h;
    const int32_t ix0 = ox * p->stride_w - p->pad_w;
    if (ox + 3 < p->out_w && p->dilation_w == 1 && iy0 >= 0 && iy0 + (p->filter_h - 1) * p->dilation_h < p->in_h &&
        ix0 >= 0 && ix0 + 3 * p->stride_w + p->filter_w <= p->in_w) {
      /* four pixels of one output row, every tap inside: each filter row is one run per pixel */
      const int32_t run = p->filter_w * in_c;
      const int8_t *src = in_b + ((size_t)iy0 * p->in_w + ix0) * in_c;
      for (int32_t fy = 0; fy < p->filter_h; ++fy, col += 2 * run) {
        tm2_widen4(src + (size_t)fy * p->dilation_h * p->in_w * in_c, p->stride_w * in_c, run, p->input_offset,
                   col);
      }
      return;
    }
  }
  for (int32_t s = 0; s < 4; ++s) {
    /* Unused slots of a short block repeat its last pixel: finite data, results not stored. */
    if ((in_c & 3) == 0) {
      tm2_im2col_words(p, in_b, oy, ox, col, s);
    } else {
      tm2_gather_pixel(p, in_b, oy, ox, bytes + (size_t)s * kp);
    }
    if (s + 1 < npix && ++ox == p->out_w) ox = 0, ++oy;
  }
  if ((in_c & 3) != 0) tm2_widen4(bytes, kp, kp, p->input_offset, col);
}

/* --------------------------------------------------------------------------------------- conv2d */

/* Halfword multiply-accumulates: SMLAD, SMLABT, SMLATB or their C equivalents. */
#if TM2_CONV_USE_DSP
#define tm2_dot2(x, w, acc) __smlad((x), (w), (acc))
#define tm2_mac_bt(x, w, acc) __smlabt((int32_t)(x), (int32_t)(w), (acc))
#define tm2_mac_tb(x, w, acc) __smlatb((int32_t)(x), (int32_t)(w), (acc))
#else
static inline int32_t tm2_lo16(uint32_t v) { return (int16_t)(v & 0xFFFFu); }
static inline int32_t tm2_hi16(uint32_t v) { return (int16_t)(v >> 16); }
static inline int32_t tm2_dot2(uint32_t x, uint32_t w, int32_t acc) {
  return acc + tm2_lo16(x) * tm2_lo16(w) + tm2_hi16(x) * tm2_hi16(w);
}
static inline int32_t tm2_mac_bt(uint32_t x, uint32_t w, int32_t acc) { return acc + tm2_lo16(x) * tm2_hi16(w); }
static inline int32_t tm2_mac_tb(uint32_t x, uint32_t w, int32_t acc) { return acc + tm2_hi16(x) * tm2_lo16(w); }
#endif

/* One requantisation record (tm2_conv_dsp.h) applied to a doubled accumulator: value plus output offset,
 * not yet clamped. */
static inline int32_t tm2_gemm_rq(int32_t acc2, const int32_t *r, int32_t mode, int32_t output_offset) {
  if (mode == TM2_RQ_HIGHMUL) {
    /* SMMLAR(acc2, m, hz) - [acc < 0], then >> e (see TM2_RQ_HIGHMUL in tm2_requant.h) */
    const int32_t v = (int32_t)(((int64_t)acc2 * r[0] + ((int64_t)1 << 31)) >> 32);
    return (int32_t)((uint32_t)v + (uint32_t)r[1] + (uint32_t)(acc2 >> 31)) >> r[2];
  }
  return tm2_mbqm(acc2 >> 1, r[0], r[2]) + output_offset;
}

/* The eight sums of one channel pair over a 4-pixel column block (portable form of the assembly below):
 * acc[s] for channel c, acc[4 + s] for channel c + 1. `rec` points at the pair's record. */
static void tm2_gemm_pair(const int32_t *rec, const uint32_t *col, int32_t kp, int32_t acc[8]) {
  for (int32_t s = 0; s < 4; ++s) acc[s] = rec[0], acc[4 + s] = rec[1];
  const uint32_t *w = (const uint32_t *)rec + 2;
  for (int32_t j = 0; j < kp / 2; ++j, w += 2, col += 4) {
    for (int32_t s = 0; s < 4; ++s) {
      acc[s] = tm2_dot2(col[s], w[0], acc[s]);
      acc[4 + s] = tm2_dot2(col[s], w[1], acc[4 + s]);
    }
  }
}

#if TM2_CONV_USE_DSP
/* One step of the matrix product: one position pair, four pixels x two channels, 16 MACs. Fourteen 32-bit
 * instructions (56 bytes: TM2_GEMM_STEP_BYTES), so that the unrolled loop can be entered at any step. */
#define TM2_GEMM_STEP                      \
  "ldr %[w0], [%[pw]], #4\n\t"             \
  "ldr %[w1], [%[pw]], #4\n\t"             \
  "ldr %[x0], [%[px]], #4\n\t"             \
  "ldr %[x1], [%[px]], #4\n\t"             \
  "smlad %[a0], %[x0], %[w0], %[a0]\n\t"   \
  "smlad %[b0], %[x0], %[w1], %[b0]\n\t"   \
  "smlad %[a1], %[x1], %[w0], %[a1]\n\t"   \
  "smlad %[b1], %[x1], %[w1], %[b1]\n\t"   \
  "ldr %[x0], [%[px]], #4\n\t"             \
  "ldr %[x1], [%[px]], #4\n\t"             \
  "smlad %[a2], %[x0], %[w0], %[a2]\n\t"   \
  "smlad %[b2], %[x0], %[w1], %[b2]\n\t"   \
  "smlad %[a3], %[x1], %[w0], %[a3]\n\t"   \
  "smlad %[b3], %[x1], %[w1], %[b3]\n\t"
#define TM2_GEMM_STEP_BYTES 56
#define TM2_GEMM_UNROLL 16
#define TM2_GEMM_STEP4 TM2_GEMM_STEP TM2_GEMM_STEP TM2_GEMM_STEP TM2_GEMM_STEP

/* Requantisation of accumulator A (TM2_RQ_HIGHMUL, m in w0, hz in w1, e in x0) to a saturated int8 value;
 * with the sign correction (output offset above -128) or without (output offset -128: every negative sum
 * saturates to -128 either way). */
#define TM2_GEMM_RQ_SIGNED(A)                          \
  "smmlar %[x1], %[" A "], %[w0], %[w1]\n\t"            \
  "add %[" A "], %[x1], %[" A "], asr #31\n\t"          \
  "asr %[" A "], %[" A "], %[x0]\n\t"                   \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_GEMM_RQ_LOW(A)                             \
  "smmlar %[" A "], %[" A "], %[w0], %[w1]\n\t"         \
  "asr %[" A "], %[" A "], %[x0]\n\t"                   \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* Every full channel pair of one 4-pixel block, in registers: the first position pair starts from the
 * pair's biases (prologue), the rest runs in a loop of TM2_GEMM_UNROLL steps entered at `entry` (so the
 * remainder runs first), then the requantisation of the eight sums and their stores (pixel s, channels c
 * and c + 1 at o + s * out_c). Loop state lives in memory operands (stack slots): the product needs all
 * fourteen usable registers. */
#define TM2_GEMM_PAIRS(RQ)                                                                              \
  __asm__ volatile(                                                                                     \
      "adr %[x0], 1f\n\t"                                                                               \
      "ldr %[x1], %[eoff]\n\t"                                                                          \
      "add %[x0], %[x0], %[x1]\n\t"                                                                     \
      "orr %[x0], %[x0], #1\n\t"                                                                        \
      "str %[x0], %[entry]\n"                                                                           \
      "0:\n\t"                                                                                          \
      "ldr %[px], %[colm]\n\t"                                                                          \
      "ldr %[a2], [%[pw]], #4\n\t"                                                                      \
      "ldr %[b2], [%[pw]], #4\n\t"                                                                      \
      "ldr %[w0], [%[pw]], #4\n\t"                                                                      \
      "ldr %[w1], [%[pw]], #4\n\t"                                                                      \
      "ldr %[x0], [%[px]], #4\n\t"                                                                      \
      "ldr %[x1], [%[px]], #4\n\t"                                                                      \
      "smlad %[a0], %[x0], %[w0], %[a2]\n\t"                                                            \
      "smlad %[b0], %[x0], %[w1], %[b2]\n\t"                                                            \
      "smlad %[a1], %[x1], %[w0], %[a2]\n\t"                                                            \
      "smlad %[b1], %[x1], %[w1], %[b2]\n\t"                                                            \
      "ldr %[x0], [%[px]], #4\n\t"                                                                      \
      "ldr %[x1], [%[px]], #4\n\t"                                                                      \
      "smlad %[a3], %[x1], %[w0], %[a2]\n\t"                                                            \
      "smlad %[b3], %[x1], %[w1], %[b2]\n\t"                                                            \
      "smlad %[a2], %[x0], %[w0], %[a2]\n\t"                                                            \
      "smlad %[b2], %[x0], %[w1], %[b2]\n\t"                                                            \
      "ldr pc, %[entry]\n"                                                                              \
      "1:\n\t" TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP4                              \
      "ldr %[x0], %[colend]\n\t"                                                                        \
      "cmp %[px], %[x0]\n\t"                                                                            \
      "bne 1b\n\t"                                                                                      \
      "ldr %[w0], [%[pw]], #4\n\t"                                                                      \
      "ldr %[w1], [%[pw]], #4\n\t"                                                                      \
      "ldr %[x0], [%[pw]], #4\n\t" RQ("a0") RQ("a1") RQ("a2") RQ("a3")                                  \
      "ldr %[w0], [%[pw]], #4\n\t"                                                                      \
      "ldr %[w1], [%[pw]], #4\n\t"                                                                      \
      "ldr %[x0], [%[pw]], #4\n\t" RQ("b0") RQ("b1") RQ("b2") RQ("b3")                                  \
      "ldr %[w0], %[om]\n\t"                                                                            \
      "ldr %[w1], %[ocm]\n\t"                                                                           \
      "add %[x0], %[w0], %[w1]\n\t"                                                                     \
      "add %[x1], %[x0], %[w1]\n\t"                                                                     \
      "add %[px], %[x1], %[w1]\n\t"                                                                     \
      "strb %[a0], [%[w0]]\n\t"                                                                         \
      "strb %[b0], [%[w0], #1]\n\t"                                                                     \
      "strb %[a1], [%[x0]]\n\t"                                                                         \
      "strb %[b1], [%[x0], #1]\n\t"                                                                     \
      "strb %[a2], [%[x1]]\n\t"                                                                         \
      "strb %[b2], [%[x1], #1]\n\t"                                                                     \
      "strb %[a3], [%[px]]\n\t"                                                                         \
      "strb %[b3], [%[px], #1]\n\t"                                                                     \
      "add %[w0], %[w0], #2\n\t"                                                                        \
      "str %[w0], %[om]\n\t"                                                                            \
      "ldr %[x0], %[wend]\n\t"                                                                          \
      "cmp %[pw], %[x0]\n\t"                                                                            \
      "bne 0b\n\t"                                                                                      \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [px] "=&r"(px), [pw] "+r"(pw), [om] "+m"(op), [entry] "=m"(entry)                               \
      : [colm] "m"(col), [colend] "m"(col_end), [eoff] "m"(eoff), [ocm] "m"(out_c), [wend] "m"(wend)     \
      : "cc", "memory")
#endif

void tm2_conv2d_s8_packed(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                          void *scratch, int8_t *output) {
  const int32_t kp = p->depth_padded;
  const int32_t out_c = p->out_c;
  const int32_t rec_words = TM2_CONV_PACKED_PAIR_WORDS(kp);
  const int32_t pixels = p->out_h * p->out_w;
  const int32_t mode = p->rq_mode;
  const int32_t zp = p->output_offset;
  uint32_t *col = (uint32_t *)scratch;
  int8_t *bytes = (int8_t *)scratch + 8 * kp;
#if TM2_CONV_USE_DSP
  const int32_t full_pairs = out_c / 2;
  const int fast = mode == TM2_RQ_HIGHMUL && p->act_min == -128 && p->act_max == 127 && full_pairs > 0;
  const int32_t steps = kp / 2 - 1; /* steps after the prologue's first position pair */
  const int32_t eoff = ((TM2_GEMM_UNROLL - steps % TM2_GEMM_UNROLL) % TM2_GEMM_UNROLL) * TM2_GEMM_STEP_BYTES;
  const void *col_end = (const int8_t *)scratch + 8 * kp;
  const int32_t *wend = packed + (size_t)full_pairs * rec_words;
#endif
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    int8_t *out_b = output + (size_t)b * pixels * out_c;
    for (int32_t next = 0; next < pixels; next += 4) {
      /* A short last block moves back to end at the last pixel (recomputing up to three pixels with
       * identical results); only a layer of fewer than four pixels has a block with unused slots. */
      const int32_t pix0 = next + 4 <= pixels || pixels < 4 ? next : pixels - 4;
      const int32_t npix = tm2_min_i32(4, pixels - pix0);
      tm2_im2col_block(p, in_b, pix0, npix, col, bytes);
      int8_t *out_blk = out_b + (size_t)pix0 * out_c;
      const int32_t *rec = packed;
      int32_t cp = 0;
#if TM2_CONV_USE_DSP
      if (fast && npix == 4) {
        const int32_t *pw = packed;
        int8_t *op = out_blk;
        const void *entry;
        int32_t a0, a1, a2, a3, b0, b1, b2, b3;
        uint32_t w0, w1, x0, x1, px;
        if (zp == -128) {
          TM2_GEMM_PAIRS(TM2_GEMM_RQ_LOW);
        } else {
          TM2_GEMM_PAIRS(TM2_GEMM_RQ_SIGNED);
        }
        cp = full_pairs;
        rec = wend;
      }
#endif
      for (; 2 * cp < out_c; ++cp, rec += rec_words) {
        int32_t acc[8];
        tm2_gemm_pair(rec, col, kp, acc);
        const int32_t *r = rec + 2 + kp;
        for (int32_t h = 0; h < 2 && 2 * cp + h < out_c; ++h, r += 3) {
          int8_t *o = out_blk + 2 * cp + h;
          for (int32_t s = 0; s < npix; ++s) {
            o[s * out_c] = tm2_store_clamped(tm2_gemm_rq(acc[4 * h + s], r, mode, zp), p->act_min, p->act_max);
          }
        }
      }
    }
  }
}

/* ----------------------------------------------------------------------------- depthwise 3x3 */

/* Transposes input row iy into channel-major int16 rows (input + offset) at [pad_w, pad_w + in_w) of each
 * channel's row; the padding around them is zeroed once per call and never written. */
static void tm2_dw_transpose_row(const tm2_dw3x3_packed_params *p, const int8_t *row, int16_t *dst) {
  const int32_t ch = p->channels;
  const int32_t len = p->row_len;
  const int32_t off = p->input_offset;
  dst += p->pad_w;
#if TM2_CONV_USE_DSP
  if ((ch & 3) == 0) {
    const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
    const int8_t *src = row;
    for (int32_t x = 0; x < p->in_w; ++x) {
      int16_t *d = dst + x;
      for (int32_t c = 0; c < ch; c += 4, src += 4) {
        uint32_t w;
        memcpy(&w, src, 4);
        const uint32_t even = __sxtab16(off2, w);       /* channels c, c+2 */
        const uint32_t odd = tm2_sxtab16_ror8(off2, w); /* channels c+1, c+3 */
        d[0] = (int16_t)even;
        d[len] = (int16_t)odd;
        d[2 * len] = (int16_t)(even >> 16);
        d[3 * len] = (int16_t)(odd >> 16);
        d += 4 * len;
      }
    }
    return;
  }
#endif
  for (int32_t x = 0; x < p->in_w; ++x) {
    const int8_t *src = row + (size_t)x * ch;
    for (int32_t c = 0; c < ch; ++c) dst[(size_t)c * len + x] = (int16_t)(src[c] + off);
  }
}


/* One output: taps t, t+1, t+2 (t of any parity) of the three transposed rows against one channel's
 * six weight words (w0, w1), (w1, w2) per row. */
static inline int32_t tm2_dw_one(const int16_t *ra, const int16_t *rb, const int16_t *rc, const int32_t *wc,
                                 int32_t t, int32_t acc) {
  const int32_t e = t & ~1;
  const uint32_t *xa = (const uint32_t *)(ra + e), *xb = (const uint32_t *)(rb + e);
  const uint32_t *xc = (const uint32_t *)(rc + e);
  if (t & 1) { /* t1 w0 + (t2 w1 + t3 w2) */
    acc = tm2_dot2(xa[1], (uint32_t)wc[1], tm2_mac_tb(xa[0], (uint32_t)wc[0], acc));
    acc = tm2_dot2(xb[1], (uint32_t)wc[3], tm2_mac_tb(xb[0], (uint32_t)wc[2], acc));
    return tm2_dot2(xc[1], (uint32_t)wc[5], tm2_mac_tb(xc[0], (uint32_t)wc[4], acc));
  }
  /* (t0 w0 + t1 w1) + t2 w2 */
  acc = tm2_mac_bt(xa[1], (uint32_t)wc[1], tm2_dot2(xa[0], (uint32_t)wc[0], acc));
  acc = tm2_mac_bt(xb[1], (uint32_t)wc[3], tm2_dot2(xb[0], (uint32_t)wc[2], acc));
  return tm2_mac_bt(xc[1], (uint32_t)wc[5], tm2_dot2(xc[0], (uint32_t)wc[4], acc));
}

#if TM2_CONV_USE_DSP
/* One filter row of four stride-1 outputs: taps in words x0 = (t0, t1), x1 = (t2, t3), x2 = (t4, t5) of
 * row R (R advances by the group's 8 bytes), weights wa = (w0, w1), wb = (w1, w2) at byte WOFF of wr. */
#define TM2_DW_ROW_S1(R, WOFF)                \
  "ldr %[x0], [%[" R "]], #8\n\t"            \
  "ldr %[x1], [%[" R "], #-4]\n\t"           \
  "ldr %[x2], [%[" R "]]\n\t"                \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"        \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"      \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"     \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"    \
  "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"    \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"     \
  "smlad %[a2], %[x1], %[wa], %[a2]\n\t"     \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"    \
  "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"    \
  "smlad %[a3], %[x2], %[wb], %[a3]\n\t"

/* The same for stride 2: output i reads word i (t_2i, t_2i+1) and the bottom of word i + 1; R advances 16. */
#define TM2_DW_ROW_S2(R, WOFF)                \
  "ldr %[x0], [%[" R "]], #16\n\t"           \
  "ldr %[x1], [%[" R "], #-12]\n\t"          \
  "ldr %[x2], [%[" R "], #-8]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"        \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"      \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"     \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"    \
  "smlad %[a1], %[x1], %[wa], %[a1]\n\t"     \
  "smlabt %[a1], %[x2], %[wb], %[a1]\n\t"    \
  "ldr %[x0], [%[" R "], #-4]\n\t"           \
  "ldr %[x1], [%[" R "]]\n\t"                \
  "smlad %[a2], %[x2], %[wa], %[a2]\n\t"     \
  "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"    \
  "smlad %[a3], %[x0], %[wa], %[a3]\n\t"     \
  "smlabt %[a3], %[x1], %[wb], %[a3]\n\t"

/* TM2_RQ_DOUBLE_FAST of accumulator A in place, before the output offset: m in x2, Khi in wa, sh in wb. */
#define TM2_DW_RQ(A)                                \
  "and %[x0], %[" A "], #0x80000000\n\t"           \
  "orr %[x0], %[x0], #0x40000000\n\t"              \
  "add %[x1], %[wa], %[" A "], asr #31\n\t"        \
  "smlal %[x0], %[x1], %[" A "], %[x2]\n\t"        \
  "asr %[" A "], %[x1], %[wb]\n\t"

/* Output offset (in x2) and saturation to int8 of A. */
#define TM2_DW_ZP(A) "add %[" A "], %[" A "], %[x2]\n\t" "ssat %[" A "], #8, %[" A "]\n\t"

/* Loop state of TM2_DW_ROWS, in memory: the assembly needs all fourteen usable registers. */
typedef struct {
  const int32_t *wp; /*  0: the channel's six weight words */
  const int32_t *bp; /*  4: its bias */
  const tm2_rq *qp;  /*  8: its requantisation entry */
  int8_t *o_next;    /* 12: its first output of the row */
  int32_t ccount;    /* 16: channels left */
  int32_t gcount;    /* 20: groups left in this channel */
  int32_t gt;        /* 24: groups << 2 | tail outputs */
  int32_t ch;        /* 28: output stride (channels) */
  int32_t zp;        /* 32: output offset */
  int32_t radv;      /* 36: row pointer advance from one channel to the next, after its groups */
} tm2_dw_state;

/* x0 = a field of the state (byte offset OFF). */
#define TM2_DW_ST(OFF) "ldr %[x0], %[st]\n\t" "ldr %[x0], [%[x0], #" OFF "]\n\t"

/* Loads the channel's tm2_rq for TM2_DW_RQ: m -> x2, Khi -> wa, sh -> wb. */
#define TM2_DW_Q TM2_DW_ST("8") "ldr %[x2], [%[x0]]\n\t" "ldr %[wa], [%[x0], #4]\n\t" "ldr %[wb], [%[x0], #12]\n\t"

/* Output offset into x2. */
#define TM2_DW_ZPLOAD "ldr %[x2], %[st]\n\t" "ldr %[x2], [%[x2], #32]\n\t"

/* One output of one row: taps in words at byte X0 / X1 of row R; MAC1 / MAC2 pick the halves:
 * even tap offset: SMLAD (t0 w0 + t1 w1) then SMLABT (t2 w2); odd: SMLATB (t1 w0) then SMLAD (t2 w1 + t3 w2). */
#define TM2_DW_ONE_ROW(R, X0, X1, WOFF, MAC1, MAC2) \
  "ldr %[x0], [%[" R "], #" X0 "]\n\t"            \
  "ldr %[x1], [%[" R "], #" X1 "]\n\t"            \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"             \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"           \
  MAC1 " %[a0], %[x0], %[wa], %[a0]\n\t"          \
  MAC2 " %[a0], %[x1], %[wb], %[a0]\n\t"

#define TM2_DW_ONE(X0, X1, MAC1, MAC2)                                                          \
  TM2_DW_ST("4") "ldr %[a0], [%[x0]]\n\t" TM2_DW_ONE_ROW("ra", X0, X1, "0", MAC1, MAC2)        \
  TM2_DW_ONE_ROW("rb", X0, X1, "8", MAC1, MAC2) TM2_DW_ONE_ROW("rc", X0, X1, "16", MAC1, MAC2) \
  TM2_DW_Q TM2_DW_RQ("a0") TM2_DW_ZPLOAD TM2_DW_ZP("a0")

/* x0 = tail outputs; branch to 9 when fewer than N. */
#define TM2_DW_TAIL_AT_LEAST(N) TM2_DW_ST("24") "and %[x0], %[x0], #3\n\t" "cmp %[x0], #" N "\n\t" "blt 9f\n\t"

/* The tail outputs of a row (T = 1..3 after the full groups; relative output i at [o + i * ch]). */
#define TM2_DW_TAIL_S1                                                                                   \
  TM2_DW_ONE("0", "4", "smlad", "smlabt") "strb %[a0], [%[o]]\n\t" TM2_DW_TAIL_AT_LEAST("2")             \
  TM2_DW_ONE("0", "4", "smlatb", "smlad") TM2_DW_ST("28") "strb %[a0], [%[o], %[x0]]\n\t"                \
  TM2_DW_TAIL_AT_LEAST("3")                                                                              \
  TM2_DW_ONE("4", "8", "smlad", "smlabt") TM2_DW_ST("28") "strb %[a0], [%[o], %[x0], lsl #1]\n\t"
#define TM2_DW_TAIL_S2                                                                                   \
  TM2_DW_ONE("0", "4", "smlad", "smlabt") "strb %[a0], [%[o]]\n\t" TM2_DW_TAIL_AT_LEAST("2")             \
  TM2_DW_ONE("4", "8", "smlad", "smlabt") TM2_DW_ST("28") "strb %[a0], [%[o], %[x0]]\n\t"                \
  TM2_DW_TAIL_AT_LEAST("3")                                                                              \
  TM2_DW_ONE("8", "12", "smlad", "smlabt") TM2_DW_ST("28") "strb %[a0], [%[o], %[x0], lsl #1]\n\t"

/* One output row of every channel, fast requantisation, full int8 range. Per channel: G = gt >> 2
 * groups of four outputs, then T = gt & 3 single outputs; then the row pointers advance by radv and the
 * weight, bias, rq and output pointers by one channel. */
#define TM2_DW_ROWS(ROW, TAIL)                                                                              \
  __asm__ volatile(                                                                                         \
      "0:\n\t"                                                                                              \
      "ldr %[wr], %[st]\n\t"                                                                                \
      "ldr %[wr], [%[wr]]\n\t" TM2_DW_ST("24")                                                            \
      "lsrs %[x0], %[x0], #2\n\t"                                                                           \
      "beq 5f\n\t"                                                                                          \
      "ldr %[x1], %[st]\n\t"                                                                                \
      "str %[x0], [%[x1], #20]\n"                                                                           \
      "1:\n\t" TM2_DW_ST("4")                                                                             \
      "ldr %[a0], [%[x0]]\n\t"                                                                              \
      "mov %[a1], %[a0]\n\t"                                                                                \
      "mov %[a2], %[a0]\n\t"                                                                                \
      "mov %[a3], %[a0]\n\t" ROW("ra", "0") ROW("rb", "8") ROW("rc", "16")                                \
      TM2_DW_Q TM2_DW_RQ("a0") TM2_DW_RQ("a1") TM2_DW_RQ("a2") TM2_DW_RQ("a3")                              \
      TM2_DW_ZPLOAD TM2_DW_ZP("a0") TM2_DW_ZP("a1") TM2_DW_ZP("a2") TM2_DW_ZP("a3")                        \
      TM2_DW_ST("28")                                                                                       \
      "strb %[a0], [%[o]]\n\t"                                                                              \
      "strb %[a1], [%[o], %[x0]]\n\t"                                                                       \
      "add %[o], %[o], %[x0], lsl #1\n\t"                                                                   \
      "strb %[a2], [%[o]]\n\t"                                                                              \
      "strb %[a3], [%[o], %[x0]]\n\t"                                                                       \
      "add %[o], %[o], %[x0], lsl #1\n\t"                                                                   \
      "ldr %[x1], %[st]\n\t"                                                                                \
      "ldr %[x0], [%[x1], #20]\n\t"                                                                         \
      "subs %[x0], %[x0], #1\n\t"                                                                           \
      "str %[x0], [%[x1], #20]\n\t"                                                                         \
      "bne 1b\n"                                                                                            \
      "5:\n\t" TM2_DW_ST("24")                                                                            \
      "ands %[x0], %[x0], #3\n\t"                                                                           \
      "beq 9f\n\t" TAIL                                                                                     \
      "9:\n\t"                                                                                              \
      "ldr %[x1], %[st]\n\t"                                                                                \
      "ldr %[x0], [%[x1], #36]\n\t"                                                                         \
      "add %[ra], %[ra], %[x0]\n\t"                                                                         \
      "add %[rb], %[rb], %[x0]\n\t"                                                                         \
      "add %[rc], %[rc], %[x0]\n\t"                                                                         \
      "add %[wr], %[wr], #24\n\t"                                                                           \
      "str %[wr], [%[x1]]\n\t"                                                                              \
      "ldr %[x0], [%[x1], #4]\n\t"                                                                          \
      "add %[x0], %[x0], #4\n\t"                                                                            \
      "str %[x0], [%[x1], #4]\n\t"                                                                          \
      "ldr %[x0], [%[x1], #8]\n\t"                                                                          \
      "add %[x0], %[x0], #16\n\t"                                                                           \
      "str %[x0], [%[x1], #8]\n\t"                                                                          \
      "ldr %[o], [%[x1], #12]\n\t"                                                                          \
      "add %[o], %[o], #1\n\t"                                                                              \
      "str %[o], [%[x1], #12]\n\t"                                                                          \
      "ldr %[x0], [%[x1], #16]\n\t"                                                                         \
      "subs %[x0], %[x0], #1\n\t"                                                                           \
      "str %[x0], [%[x1], #16]\n\t"                                                                         \
      "bne 0b\n\t"                                                                                          \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [ra] "+r"(ra), [rb] "+r"(rb),       \
        [rc] "+r"(rc), [o] "+r"(o), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [wa] "=&r"(wa),          \
        [wb] "=&r"(wb), [wr] "=&r"(wr)                                                                       \
      : [st] "m"(stp)                                                                                        \
      : "cc", "memory")
#endif

void tm2_depthwise3x3_s8_packed(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output) {
  const int32_t ch = p->channels;
  const int32_t len = p->row_len;
  const int32_t stride = p->stride;
  const int32_t out_w = p->out_w;
  const size_t slot_elems = (size_t)ch * len;
  int16_t *slots = (int16_t *)scratch;
  int16_t *zero_slot = slots + 3 * slot_elems; /* a whole slot of zeros: rows outside the input */
  const int fast = p->rq_mode == TM2_RQ_DOUBLE_FAST && p->act_min == -128 && p->act_max == 127;
#if TM2_CONV_USE_DSP
  const int asm_rows = fast && bias != NULL;
#else
  (void)fast;
#endif
  memset(scratch, 0, 2 * 4 * slot_elems);
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * ch;
    int8_t *out_b = output + (size_t)b * p->out_h * out_w * ch;
    int32_t held[3] = {-1, -1, -1}; /* input row held by each slot */
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * stride - p->pad_h;
      const int16_t *rows[3];
      for (int32_t fy = 0; fy < 3; ++fy) {
        const int32_t iy = iy0 + fy;
        if (iy < 0 || iy >= p->in_h) {
          rows[fy] = zero_slot;
          continue;
        }
        const int32_t s = iy % 3;
        int16_t *slot = slots + (size_t)s * slot_elems;
        if (held[s] != iy) {
          tm2_dw_transpose_row(p, in_b + (size_t)iy * p->in_w * ch, slot);
          held[s] = iy;
        }
        rows[fy] = slot;
      }
      int8_t *out_row = out_b + (size_t)oy * out_w * ch;
#if TM2_CONV_USE_DSP
      if (asm_rows) {
        const uint32_t *ra = (const uint32_t *)rows[0], *rb = (const uint32_t *)rows[1];
        const uint32_t *rc = (const uint32_t *)rows[2];
        int8_t *o = out_row;
        tm2_dw_state st = {
            .wp = weights, .bp = bias, .qp = rq, .o_next = out_row, .ccount = ch, .gcount = 0,
            .gt = out_w, /* groups = out_w >> 2, tail = out_w & 3 */
            .ch = ch, .zp = p->output_offset, .radv = 2 * len - (out_w / 4) * (stride == 1 ? 8 : 16),
        };
        tm2_dw_state *stp = &st;
        uint32_t a0, a1, a2, a3, x0, x1, x2, wa, wb, wr;
        if (stride == 1) {
          TM2_DW_ROWS(TM2_DW_ROW_S1, TM2_DW_TAIL_S1);
        } else {
          TM2_DW_ROWS(TM2_DW_ROW_S2, TM2_DW_TAIL_S2);
        }
        continue;
      }
#endif
      for (int32_t c = 0; c < ch; ++c) {
        const int32_t *wc = weights + (size_t)c * 6;
        const int32_t bc = bias != NULL ? bias[c] : 0;
        const tm2_rq *q = &rq[c];
        const int16_t *ra = rows[0] + (size_t)c * len, *rb = rows[1] + (size_t)c * len;
        const int16_t *rc = rows[2] + (size_t)c * len;
        int8_t *o = out_row + c;
        for (int32_t ox = 0; ox < out_w; ++ox) {
          const int32_t acc = tm2_dw_one(ra, rb, rc, wc, ox * stride, bc);
          const int32_t v = tm2_rq_apply(acc, q, p->rq_mode, p->output_offset);
          o[(size_t)ox * ch] = tm2_store_clamped(v, p->act_min, p->act_max);
        }
      }
    }
  }
}
