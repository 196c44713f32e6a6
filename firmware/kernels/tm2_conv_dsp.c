/* tinym2net int8 convolutions on packed weights (see tm2_conv_dsp.h for layouts and arithmetic).
 * Hand-written for tinym2net. C99, no heap, no state. */
#include "tm2_conv_dsp.h"

#include <stddef.h>
#include <string.h>

#include "tm2_dsp_common.h"

/* Column position of tap k: bits 0 and 1 swapped, so each group of four reads k0, k2, k1, k3. */
static inline int32_t tm2_col_pos(int32_t k) { return (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1); }

/* int16 index of column position q of pixel slot s (0..3) in the interleaved column buffer. */
static inline int32_t tm2_col_index(int32_t q, int32_t slot) { return (q >> 1) * 8 + slot * 2 + (q & 1); }

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
  const int32_t groups_per_tap = in_c >> 2;
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    /* the taps of this filter row inside the input: fx0 .. fx1 - 1 (empty when the row is outside) */
    int32_t fx0 = p->filter_w, fx1 = p->filter_w;
    if (iy >= 0 && iy < p->in_h) {
      fx0 = 0;
      while (fx0 < p->filter_w && ix0 + fx0 * p->dilation_w < 0) ++fx0;
      fx1 = fx0;
      while (fx1 < p->filter_w && ix0 + fx1 * p->dilation_w < p->in_w) ++fx1;
    }
    uint32_t *zero_end = dst + 8 * fx0 * groups_per_tap;
    for (; dst != zero_end; dst += 8) dst[0] = 0, dst[4] = 0;
    for (int32_t fx = fx0; fx < fx1; ++fx) {
      const int8_t *src = in_b + ((size_t)iy * p->in_w + ix0 + fx * p->dilation_w) * in_c;
      /* dilation_w 1: the remaining taps of the row are one contiguous run */
      const int32_t n = (p->dilation_w == 1 ? fx1 - fx : 1) * groups_per_tap;
      int32_t g = 0;
      for (; g + 2 <= n; g += 2, src += 8, dst += 16) {
        uint32_t x, y;
        memcpy(&x, src, 4);
        memcpy(&y, src + 4, 4);
        dst[0] = __sxtab16(off2, x);        /* taps k, k+2 */
        dst[4] = tm2_sxtab16_ror8(off2, x); /* taps k+1, k+3 */
        dst[8] = __sxtab16(off2, y);
        dst[12] = tm2_sxtab16_ror8(off2, y);
      }
      if (g < n) {
        uint32_t x;
        memcpy(&x, src, 4);
        dst[0] = __sxtab16(off2, x);
        dst[4] = tm2_sxtab16_ror8(off2, x);
        dst += 8;
      }
      if (p->dilation_w == 1) break;
    }
    zero_end = dst + 8 * (p->filter_w - fx1) * groups_per_tap;
    for (; dst != zero_end; dst += 8) dst[0] = 0, dst[4] = 0;
    k += p->filter_w * in_c;
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

/* n bytes from src to dst, a word at a time (unaligned word accesses, which the Cortex-M3/M4/M7 allow and
 * memcpy of four bytes compiles to), then the last n % 4 bytes. */
static inline int8_t *tm2_copy_run(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 4; n -= 4, src += 4, dst += 4) {
    uint32_t x;
    memcpy(&x, src, 4);
    memcpy(dst, &x, 4);
  }
  for (; n > 0; --n) *dst++ = *src++;
  return dst;
}

/* `words` (1 to 4) words from src to dst (unaligned), straight-line. */
static inline void tm2_copy_words(int8_t *dst, const int8_t *src, int32_t words) {
  uint32_t x;
  switch (words) {
    case 4:
      memcpy(&x, src + 12, 4);
      memcpy(dst + 12, &x, 4);
      /* fall through */
    case 3:
      memcpy(&x, src + 8, 4);
      memcpy(dst + 8, &x, 4);
      /* fall through */
    case 2:
      memcpy(&x, src + 4, 4);
      memcpy(dst + 4, &x, 4);
      /* fall through */
    default:
      memcpy(&x, src, 4);
      memcpy(dst, &x, 4);
  }
}

/* The Kp - K <= 3 tail bytes of a gathered pixel, [dst, end), get the zero point. */
static inline void tm2_fill_tail(int8_t *dst, const int8_t *end, int8_t zp) {
  switch (end - dst) {
    case 3:
      dst[2] = zp;
      /* fall through */
    case 2:
      dst[1] = zp;
      /* fall through */
    case 1:
      dst[0] = zp;
      break;
    default:
      break;
  }
}

/* GCC turns the short zero-point fills below (one to three bytes) into memset calls; keep them inline. */
#if defined(__GNUC__) && !defined(__clang__)
#define TM2_NO_MEMSET_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TM2_NO_MEMSET_CALLS
#endif

/* The Kp tap bytes of output pixel (oy, ox) in filter order [fy][fx][c]; padding taps and the Kp - K tail
 * get the input zero point (which widens to 0). Filter rows whose columns are all inside the input are
 * runs of filter_w * in_c contiguous bytes (dilation_w 1), copied a word at a time. */
TM2_NO_MEMSET_CALLS static void tm2_gather_pixel(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                             int8_t *dst) {
  const int32_t in_c = p->in_c;
  const int8_t zp = (int8_t)(-p->input_offset);
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  const int32_t span = p->filter_w * in_c;
  const size_t in_row = (size_t)p->in_w * in_c;
  int8_t *const end = dst + p->depth_padded;
  const int cols_in = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->filter_w <= p->in_w;
  if (cols_in && p->dilation_h == 1 && iy0 >= 0 && iy0 + p->filter_h <= p->in_h) { /* every tap inside */
    const int8_t *src = in_b + (size_t)iy0 * in_row + (size_t)ix0 * in_c;
    for (int32_t fy = 0; fy < p->filter_h; ++fy, src += in_row) dst = tm2_copy_run(dst, src, span);
    tm2_fill_tail(dst, end, zp);
    return;
  }
  for (int32_t fy = 0; fy < p->filter_h; ++fy) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    const int row_ok = iy >= 0 && iy < p->in_h;
    const int8_t *src_row = in_b + (size_t)iy * in_row;
    if (row_ok && cols_in) {
      dst = tm2_copy_run(dst, src_row + (size_t)ix0 * in_c, span);
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
static inline __attribute__((always_inline)) void tm2_widen4_body(const int8_t *src, int32_t pstride, int32_t n,
                                                                  int32_t off, uint32_t *dst) {
#if TM2_CONV_USE_DSP
  /* In assembly: single-word stores with immediate offsets (one cycle each; the compiler pairs them into
   * STRD, three cycles), four groups per loop step after one and two groups for the remainder. */
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int8_t *end = src + n;
  const int32_t ps2 = 2 * pstride, ps3 = 3 * pstride;
  uint32_t v0, v1, v2, v3, t0, t1;
#define TM2_WIDEN_LOAD0                                            \
  "ldr %[v0], [%[s]]\n\t"                                         \
  "ldr %[v1], [%[s], %[p1]]\n\t"                                  \
  "ldr %[v2], [%[s], %[p2]]\n\t"                                  \
  "ldr %[v3], [%[s], %[p3]]\n\t"
#define TM2_WIDEN_LOAD4                                            \
  "add %[t0], %[s], #4\n\t"                                       \
  "ldr %[v0], [%[s], #4]\n\t"                                     \
  "ldr %[v1], [%[t0], %[p1]]\n\t"                                 \
  "ldr %[v2], [%[t0], %[p2]]\n\t"                                 \
  "ldr %[v3], [%[t0], %[p3]]\n\t"
#define TM2_WIDEN_LOADK(K)                                         \
  "add %[t0], %[s], #" K "\n\t"                                   \
  "ldr %[v0], [%[s], #" K "]\n\t"                                 \
  "ldr %[v1], [%[t0], %[p1]]\n\t"                                 \
  "ldr %[v2], [%[t0], %[p2]]\n\t"                                 \
  "ldr %[v3], [%[t0], %[p3]]\n\t"
#define TM2_WIDEN_GROUP(LOAD, DOFF)                                \
  LOAD                                                              \
  "sxtab16 %[t0], %[o2], %[v0]\n\t"                               \
  "sxtab16 %[t1], %[o2], %[v1]\n\t"                               \
  "str %[t0], [%[d], #" DOFF "]\n\t"                              \
  "str %[t1], [%[d], #" DOFF "+4]\n\t"                            \
  "sxtab16 %[t0], %[o2], %[v2]\n\t"                               \
  "sxtab16 %[t1], %[o2], %[v3]\n\t"                               \
  "str %[t0], [%[d], #" DOFF "+8]\n\t"                            \
  "str %[t1], [%[d], #" DOFF "+12]\n\t"                           \
  "sxtab16 %[t0], %[o2], %[v0], ror #8\n\t"                       \
  "sxtab16 %[t1], %[o2], %[v1], ror #8\n\t"                       \
  "str %[t0], [%[d], #" DOFF "+16]\n\t"                           \
  "str %[t1], [%[d], #" DOFF "+20]\n\t"                           \
  "sxtab16 %[t0], %[o2], %[v2], ror #8\n\t"                       \
  "sxtab16 %[t1], %[o2], %[v3], ror #8\n\t"                       \
  "str %[t0], [%[d], #" DOFF "+24]\n\t"                           \
  "str %[t1], [%[d], #" DOFF "+28]\n\t"
  if ((n >> 2) & 1) { /* an odd group count: one group first */
    __asm__ volatile(TM2_WIDEN_GROUP(TM2_WIDEN_LOAD0, "0")
                     : [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3), [t0] "=&r"(t0),
                       [t1] "=&r"(t1)
                     : [s] "r"(src), [d] "r"(dst), [p1] "r"(pstride), [p2] "r"(ps2), [p3] "r"(ps3), [o2] "r"(off2)
                     : "memory");
    src += 4;
    dst += 8;
  }
  if ((n >> 3) & 1) { /* two more groups, leaving a multiple of four */
    __asm__ volatile(TM2_WIDEN_GROUP(TM2_WIDEN_LOAD0, "0") TM2_WIDEN_GROUP(TM2_WIDEN_LOAD4, "32")
                     : [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3), [t0] "=&r"(t0),
                       [t1] "=&r"(t1)
                     : [s] "r"(src), [d] "r"(dst), [p1] "r"(pstride), [p2] "r"(ps2), [p3] "r"(ps3), [o2] "r"(off2)
                     : "memory");
    src += 8;
    dst += 16;
  }
  if (src != end) { /* four groups a loop step */
    __asm__ volatile("1:\n\t" TM2_WIDEN_GROUP(TM2_WIDEN_LOAD0, "0") TM2_WIDEN_GROUP(TM2_WIDEN_LOAD4, "32")
                     TM2_WIDEN_GROUP(TM2_WIDEN_LOADK("8"), "64") TM2_WIDEN_GROUP(TM2_WIDEN_LOADK("12"), "96")
                     "add %[s], %[s], #16\n\t"
                     "add %[d], %[d], #128\n\t"
                     "cmp %[s], %[e]\n\t"
                     "bne 1b\n\t"
                     : [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3), [t0] "=&r"(t0),
                       [t1] "=&r"(t1), [s] "+r"(src), [d] "+r"(dst)
                     : [e] "r"(end), [p1] "r"(pstride), [p2] "r"(ps2), [p3] "r"(ps3), [o2] "r"(off2)
                     : "cc", "memory");
  }
#undef TM2_WIDEN_LOADK
#undef TM2_WIDEN_GROUP
#undef TM2_WIDEN_LOAD0
#undef TM2_WIDEN_LOAD4
#else
  int16_t *col16 = (int16_t *)dst;
  for (int32_t s = 0; s < 4; ++s) {
    for (int32_t k = 0; k < n; ++k) col16[tm2_col_index(tm2_col_pos(k), s)] = (int16_t)(src[s * pstride + k] + off);
  }
#endif
}

static void tm2_widen4(const int8_t *src, int32_t pstride, int32_t n, int32_t off, uint32_t *dst) {
  tm2_widen4_body(src, pstride, n, off, dst);
}

/* tm2_widen4 for `rows` filter rows (rstride bytes apart) of n taps each, one after the other from dst, in one
 * call. */
static void tm2_widen4_rows(const int8_t *src, int32_t rstride, int32_t rows, int32_t pstride, int32_t n, int32_t off,
                            uint32_t *dst) {
  for (int32_t r = 0; r < rows; ++r, src += rstride, dst += 2 * n) tm2_widen4_body(src, pstride, n, off, dst);
}

/* The gpt groups of four taps at src (one filter tap, in_c = 4 gpt) into one slot of the column buffer,
 * from its word w: per group (k0, k2) at w[0] and (k1, k3) at w[4], input offset added. */
static void tm2_widen_tap(const int8_t *src, int32_t gpt, int32_t off, uint32_t *w) {
#if TM2_CONV_USE_DSP
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  for (int32_t g = 0; g < gpt; ++g, src += 4, w += 8) {
    uint32_t x;
    memcpy(&x, src, 4);
    w[0] = __sxtab16(off2, x);
    w[4] = tm2_sxtab16_ror8(off2, x);
  }
#else
  int16_t *col16 = (int16_t *)w;
  for (int32_t g = 0; g < gpt; ++g, src += 4, col16 += 16) {
    col16[0] = (int16_t)(src[0] + off);
    col16[1] = (int16_t)(src[2] + off);
    col16[8] = (int16_t)(src[1] + off);
    col16[9] = (int16_t)(src[3] + off);
  }
#endif
}

/* Zeros for the gpt groups of one filter tap outside the input, in one slot (see tm2_widen_tap). */
static inline void tm2_zero_tap(int32_t gpt, uint32_t *w) {
  for (int32_t g = 0; g < gpt; ++g, w += 8) w[0] = 0, w[4] = 0;
}

/* Four pixels of one output row (in_c a multiple of 4, dilation 1) whose taps reach past the input's edges:
 * filter rows outside the input are zero words. In the others, the taps sk .. filter_w - ek - 1 are inside
 * the input for all four pixels (sk: the taps left of column 0 for the first pixel, ek: those right of the
 * last column for the fourth) and are widened as runs (tm2_widen4); the first sk and last ek taps of each
 * pixel go one by one, widened when inside the input and zero otherwise. Filter rows whose whole runs stay
 * inside the input tensor are widened as whole runs instead, and only the taps outside the input zeroed
 * afterwards. Reads only the input tensor. */
static void tm2_im2col_edge4(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t iy0, int32_t ix0,
                             uint32_t *col) {
  const int32_t in_c = p->in_c;
  const int32_t fw = p->filter_w;
  const int32_t run = fw * in_c;
  const int32_t pstride = p->stride_w * in_c;
  const size_t in_row = (size_t)p->in_w * in_c;
  const ptrdiff_t tensor = (ptrdiff_t)(p->in_h * in_row);
  const int32_t gpt = in_c >> 2; /* groups of four taps per filter tap */
  int32_t sk = tm2_max_i32(0, -ix0);
  int32_t ek = tm2_max_i32(0, ix0 + 3 * p->stride_w + fw - p->in_w);
  if (sk + ek >= fw) sk = fw, ek = 0; /* no tap inside for all four pixels: every tap one by one */
  for (int32_t fy = 0; fy < p->filter_h; ++fy, col += 2 * run) {
    const int32_t iy = iy0 + fy;
    if (iy < 0 || iy >= p->in_h) {
      memset(col, 0, (size_t)8 * run);
      continue;
    }
    const int8_t *row = in_b + (size_t)iy * in_row;
    const ptrdiff_t first = (ptrdiff_t)(iy * in_row) + (ptrdiff_t)ix0 * in_c;
    /* whole runs when they stay inside the input tensor (taps outside the row read a neighbouring row and
     * are zeroed below); in the tensor's first or last row only the taps inside for all four pixels */
    const int whole = first >= 0 && first + 3 * pstride + run <= tensor;
    if (whole) {
      tm2_widen4(in_b + first, pstride, run, p->input_offset, col);
    } else if (sk + ek < fw) {
      tm2_widen4(row + (ptrdiff_t)(ix0 + sk) * in_c, pstride, (fw - sk - ek) * in_c, p->input_offset,
                 col + (size_t)8 * gpt * sk);
    }
    for (int32_t fx = 0; fx < fw; ++fx) {
      if (fx == sk) fx = fw - ek; /* the taps inside for all four pixels */
      if (fx >= fw) break;
      uint32_t *w = col + (size_t)8 * gpt * fx;
      for (int32_t s = 0, ix = ix0 + fx; s < 4; ++s, ix += p->stride_w) {
        if (ix < 0 || ix >= p->in_w) {
          tm2_zero_tap(gpt, w + s);
        } else if (!whole) {
          tm2_widen_tap(row + (ptrdiff_t)ix * in_c, gpt, p->input_offset, w + s);
        }
      }
    }
  }
}

/* Row path (tm2_im2col_rows): in_c not a multiple of 4 and filter rows of run = filter_w * in_c bytes with
 * run % 4 of 0 or 1. With run % 4 = 1 the packed weights are in the row layout (tinym2net/ops/packing.py,
 * conv_rows_layout / conv_tap_positions): per filter row, its first 4 g bytes are g groups read k0, k2, k1, k3
 * (one input word each); after all rows' groups, the last byte of every row, two rows per position pair; zeros
 * to Kp. With run % 4 = 0 that is the standard order. */
static inline int tm2_conv_row_path(const tm2_conv_packed_params *p) {
  return (p->in_c & 3) != 0 && ((p->filter_w * p->in_c) & 3) <= 1;
}

/* Filter rows of the row path's pixels that reach past the input's edges (tm2_pixel_rows); taller filters
 * have such pixels gathered whole (tm2_gather_pixel). */
#define TM2_ROWS_MAX 16

/* Filter row fy for tm2_widen_rows: rows[fy], or base + fy * stride when rows is NULL. */
#define TM2_ROW(fy) (rows ? rows[fy] : base + (size_t)(fy) * stride)

/* The column of one pixel from its filter rows (TM2_ROW: run = filter_w * in_c bytes, run % 4 of 0 or 1),
 * into one slot of the column buffer from its word w (word of position pair j at w[4 j]): the standard order
 * when run % 4 is 0, the row layout when it is 1 (see tm2_conv_row_path). Reads only the fh runs. */
static inline __attribute__((always_inline)) void tm2_widen_rows(const int8_t *const *rows, const int8_t *base,
                                                                 int32_t stride, int32_t fh, int32_t run, int32_t kp,
                                                                 int32_t off, uint32_t *w) {
  const int32_t g = run >> 2;
#if TM2_CONV_USE_DSP
  uint32_t *const end = w + 2 * kp;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  if (run == 4) { /* one word per filter row (kws' 10x4 filters of one channel) */
    for (int32_t fy = 0; fy < fh; ++fy, w += 8) {
      uint32_t x;
      memcpy(&x, TM2_ROW(fy), 4);
      w[0] = __sxtab16(off2, x);
      w[4] = tm2_sxtab16_ror8(off2, x);
    }
    for (; w != end; w += 4) w[0] = 0;
    return;
  }
  for (int32_t fy = 0; fy < fh; ++fy) {
    const int8_t *row = TM2_ROW(fy);
    for (int32_t i = 0; i < g; ++i, w += 8) {
      uint32_t x;
      memcpy(&x, row + 4 * i, 4);
      w[0] = __sxtab16(off2, x);        /* taps 4i, 4i+2 */
      w[4] = tm2_sxtab16_ror8(off2, x); /* taps 4i+1, 4i+3 */
    }
  }
  if (run & 3) {
    int32_t fy = 0;
    for (; fy + 1 < fh; fy += 2, w += 4) {
      w[0] = __sxtab16(off2, (uint32_t)(uint8_t)TM2_ROW(fy)[4 * g] | (uint32_t)(uint8_t)TM2_ROW(fy + 1)[4 * g] << 16);
    }
    if (fy < fh) { /* the high lane (the offset) meets a zero weight */
      w[0] = __sxtab16(off2, (uint32_t)(uint8_t)TM2_ROW(fy)[4 * g]);
      w += 4;
    }
  }
  for (; w != end; w += 4) w[0] = 0;
#else
  int16_t *c16 = (int16_t *)w; /* position q of this slot: c16[(q >> 1) * 8 + (q & 1)] */
  int32_t q = 0;
  for (int32_t fy = 0; fy < fh; ++fy) {
    for (int32_t t = 0; t < 4 * g; ++t, ++q) {
      const int32_t pos = tm2_col_pos(q);
      c16[(pos >> 1) * 8 + (pos & 1)] = (int16_t)(TM2_ROW(fy)[t] + off);
    }
  }
  if (run & 3) {
    for (int32_t fy = 0; fy < fh; ++fy, ++q) c16[(q >> 1) * 8 + (q & 1)] = (int16_t)(TM2_ROW(fy)[4 * g] + off);
  }
  for (; q < kp; ++q) c16[(q >> 1) * 8 + (q & 1)] = 0;
#endif
}
#undef TM2_ROW

#if TM2_CONV_USE_DSP
/* tm2_widen_rows for 3x3 filters of three channels (runs of 9 bytes, Kp 28): rows r0, r1, r2; six words and
 * three bytes, straight-line. */
static inline __attribute__((always_inline)) void tm2_widen_rows_3x9(const int8_t *r0, const int8_t *r1,
                                                                     const int8_t *r2, uint32_t off2, uint32_t *col) {
  uint32_t x, y;
  memcpy(&x, r0, 4);
  memcpy(&y, r0 + 4, 4);
  col[0] = __sxtab16(off2, x);
  col[4] = tm2_sxtab16_ror8(off2, x);
  col[8] = __sxtab16(off2, y);
  col[12] = tm2_sxtab16_ror8(off2, y);
  memcpy(&x, r1, 4);
  memcpy(&y, r1 + 4, 4);
  col[16] = __sxtab16(off2, x);
  col[20] = tm2_sxtab16_ror8(off2, x);
  col[24] = __sxtab16(off2, y);
  col[28] = tm2_sxtab16_ror8(off2, y);
  memcpy(&x, r2, 4);
  memcpy(&y, r2 + 4, 4);
  col[32] = __sxtab16(off2, x);
  col[36] = tm2_sxtab16_ror8(off2, x);
  col[40] = __sxtab16(off2, y);
  col[44] = tm2_sxtab16_ror8(off2, y);
  col[48] = __sxtab16(off2, (uint32_t)(uint8_t)r0[8] | (uint32_t)(uint8_t)r1[8] << 16);
  col[52] = __sxtab16(off2, (uint32_t)(uint8_t)r2[8]);
}

/* Four pixels of 3x3 filters of three channels, pixel s at src + s * ps, filter rows rs bytes apart. */
static inline __attribute__((always_inline)) void tm2_widen_rows_3x9_4(const int8_t *src, int32_t ps, int32_t rs, int32_t off, uint32_t *col) {
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int8_t *r0 = src, *r1 = src + rs, *r2 = src + 2 * rs;
  for (uint32_t *const end = col + 4; col != end; ++col, r0 += ps, r1 += ps, r2 += ps) {
    tm2_widen_rows_3x9(r0, r1, r2, off2, col);
  }
}
#endif

/* The filter rows of output pixel (oy, ox) for tm2_widen_rows (fh <= TM2_ROWS_MAX): rows inside the input
 * whose taps are all inside (dilation_w 1) point into the input; the others are written to buf (run bytes per
 * filter row, 4-byte aligned): the zero point for taps outside the input (it widens to 0), the input's bytes
 * for the others. When the pixel's columns reach past the input, buf is first filled with the zero point a
 * word at a time, then only the taps inside are copied. */
TM2_NO_MEMSET_CALLS static void tm2_pixel_rows(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t oy,
                                               int32_t ox, int8_t *buf, const int8_t **rows) {
  const int32_t in_c = p->in_c, fw = p->filter_w, fh = p->filter_h, run = fw * in_c;
  const int32_t in_h = p->in_h, in_w = p->in_w, dh = p->dilation_h, dw = p->dilation_w;
  const int8_t zp = (int8_t)(-p->input_offset);
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  const size_t in_row = (size_t)in_w * in_c;
  if (dw == 1 && ix0 >= 0 && ix0 + fw <= in_w) { /* the columns inside: rows in the input or all zero point */
    for (int32_t fy = 0, iy = iy0; fy < fh; ++fy, iy += dh, buf += run) {
      if (iy >= 0 && iy < in_h) {
        rows[fy] = in_b + (size_t)iy * in_row + (size_t)ix0 * in_c;
      } else {
        for (int32_t t = 0; t < run; ++t) buf[t] = zp;
        rows[fy] = buf;
      }
    }
    return;
  }
  const uint32_t zp4 = (uint32_t)(uint8_t)zp * 0x01010101u;
  uint32_t *wb = (uint32_t *)(void *)buf;
  for (int32_t i = 0, n = (fh * run + 3) >> 2; i < n; ++i) wb[i] = zp4;
  if (dw == 1) { /* taps fx0 .. fx1 - 1 inside: bytes lead .. lead + mid - 1 of each row inside */
    const int32_t fx0 = tm2_max_i32(0, -ix0), fx1 = tm2_min_i32(fw, in_w - ix0);
    const int32_t lead = fx0 * in_c, mid = tm2_max_i32(0, fx1 - fx0) * in_c;
    const int8_t *src = in_b + (ptrdiff_t)(ix0 * in_c + lead);
    for (int32_t fy = 0, iy = iy0; fy < fh; ++fy, iy += dh, buf += run) {
      rows[fy] = buf;
      if (iy >= 0 && iy < in_h) {
        const int8_t *s = src + (size_t)iy * in_row;
        for (int32_t t = 0; t < mid; ++t) buf[lead + t] = s[t];
      }
    }
    return;
  }
  for (int32_t fy = 0, iy = iy0; fy < fh; ++fy, iy += dh, buf += run) {
    rows[fy] = buf;
    if (iy < 0 || iy >= in_h) continue;
    const int8_t *row = in_b + (size_t)iy * in_row;
    for (int32_t fx = 0; fx < fw; ++fx) {
      const int32_t ix = ix0 + fx * dw;
      if (ix >= 0 && ix < in_w) {
        const int8_t *s = row + (size_t)ix * in_c;
        for (int32_t q = 0; q < in_c; ++q) buf[fx * in_c + q] = s[q];
      }
    }
  }
}

#if TM2_CONV_USE_DSP
/* One pixel of filter rows of one word (in_c 1, filter_w 4, dilation_w 1: kws' 10x4 filters) that reaches past
 * the input's edges, into one slot of the column buffer from its word w: filter rows outside the input are zero
 * words; the others are one word from the input row with the bytes of columns outside the input replaced by the
 * zero point (which widens to 0). A word that would reach before the input tensor's first or past its last byte
 * is gathered byte by byte instead, so only the input tensor is read. */
static void tm2_widen_rows4_edge(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                                 uint32_t *w) {
  const int32_t in_w = p->in_w, in_h = p->in_h, fh = p->filter_h, dh = p->dilation_h;
  const int32_t off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  const int32_t fx0 = tm2_max_i32(0, -ix0), fx1 = tm2_min_i32(4, in_w - ix0);
  uint32_t *const end = w + 2 * p->depth_padded;
  const uint32_t zp4 = (uint32_t)(uint8_t)(-off) * 0x01010101u;
  /* bytes fx0 .. fx1 - 1 (when fx0 < fx1: fx0 <= 3, fx1 >= 1) */
  const uint32_t keep = fx0 < fx1 ? (fx1 >= 4 ? ~0u : (1u << (8 * fx1)) - 1u) & ~((1u << (8 * fx0)) - 1u) : 0u;
  const uint32_t fill = zp4 & ~keep;
  /* filter rows fa .. fb - 1 inside the input (none when no column is) */
  int32_t fa = iy0 >= 0 ? 0 : dh == 1 ? -iy0 : (dh - 1 - iy0) / dh;
  int32_t fb = iy0 >= in_h ? 0 : tm2_min_i32(fh, dh == 1 ? in_h - iy0 : (in_h - iy0 + dh - 1) / dh);
  if (fx0 >= fx1 || fb < fa) fa = fb = fh;
  uint32_t *const wa = w + 8 * fa, *const wb = w + 8 * fb;
  for (; w != wa; w += 8) w[0] = 0, w[4] = 0;
  /* o: offset of the word of filter row fa in the input tensor (its first byte at column ix0) */
  const int32_t ostep = dh * in_w, omax = in_h * in_w - 4;
  for (int32_t o = (iy0 + fa * dh) * in_w + ix0; w != wb; w += 8, o += ostep) {
    uint32_t x;
    if (o >= 0 && o <= omax) {
      memcpy(&x, in_b + o, 4);
      x = (x & keep) | fill;
    } else {
      x = fill;
      for (int32_t k = fx0; k < fx1; ++k) x |= (uint32_t)(uint8_t)in_b[o + k] << (8 * k);
    }
    w[0] = __sxtab16(off2, x);
    w[4] = tm2_sxtab16_ror8(off2, x);
  }
  for (uint32_t *const wf = end - 2 * (p->depth_padded - 4 * fh); w != wf; w += 8) w[0] = 0, w[4] = 0;
  for (; w < end; w += 4) w[0] = 0;
}

/* Filter rows of one word (in_c 1, filter_w 4), n of them rstride bytes apart from src, into one slot from its
 * word w (row fy at w[8 fy] and w[8 fy + 4]), two rows a loop step; masked (a constant): the bytes of columns
 * outside the input replaced by the zero point (x & keep | fill). Returns the word after the last row's. */
static inline __attribute__((always_inline)) uint32_t *tm2_widen_word_rows(const int8_t *src, int32_t rstride,
                                                                           int32_t n, uint32_t off2, int masked,
                                                                           uint32_t keep, uint32_t fill,
                                                                           uint32_t *w) {
  for (; n >= 2; n -= 2, src += 2 * rstride, w += 16) {
    uint32_t x, y;
    memcpy(&x, src, 4);
    memcpy(&y, src + rstride, 4);
    if (masked) {
      x = (x & keep) | fill;
      y = (y & keep) | fill;
    }
    w[0] = __sxtab16(off2, x);
    w[4] = tm2_sxtab16_ror8(off2, x);
    w[8] = __sxtab16(off2, y);
    w[12] = tm2_sxtab16_ror8(off2, y);
  }
  if (n) {
    uint32_t x;
    memcpy(&x, src, 4);
    if (masked) x = (x & keep) | fill;
    w[0] = __sxtab16(off2, x);
    w[4] = tm2_sxtab16_ror8(off2, x);
    w += 8;
  }
  return w;
}

/* One pixel of filter rows of one word (in_c 1, filter_w 4, dilation_w 1: kws' 10x4 filters; Kp = 4 filter_h)
 * into one slot of the column buffer from its word w: filter rows outside the input are zero words, the others
 * one word each from the input row (tm2_widen_rows4_edge's masking where columns reach past the input). Row
 * dilation, or a word that would reach before the input tensor's first or past its last byte: that function. */
static void tm2_widen_rows4(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                            uint32_t *w) {
  const int32_t in_w = p->in_w, in_h = p->in_h, fh = p->filter_h;
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  const int32_t fa = tm2_max_i32(0, -iy0), fb = tm2_min_i32(fh, in_h - iy0); /* filter rows inside */
  const int32_t first = (iy0 + fa) * in_w + ix0, last = (iy0 + fb - 1) * in_w + ix0 + 4;
  if (p->dilation_h != 1 || ix0 <= -4 || ix0 >= in_w || fa >= fb || first < 0 || last > in_h * in_w) {
    tm2_widen_rows4_edge(p, in_b, oy, ox, w);
    return;
  }
  const int32_t off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  uint32_t *const wa = w + 8 * fa, *const wend = w + 8 * fh;
  for (; w != wa; w += 8) w[0] = 0, w[4] = 0;
  if (ix0 >= 0 && ix0 + 4 <= in_w) {
    w = tm2_widen_word_rows(in_b + first, in_w, fb - fa, off2, 0, 0u, 0u, w);
  } else {
    /* bytes fx0 .. fx1 - 1 inside the row (fx0 < fx1) */
    const int32_t fx0 = tm2_max_i32(0, -ix0), fx1 = tm2_min_i32(4, in_w - ix0);
    const uint32_t keep = (fx1 >= 4 ? ~0u : (1u << (8 * fx1)) - 1u) & ~((1u << (8 * fx0)) - 1u);
    const uint32_t fill = (uint32_t)(uint8_t)(-off) * 0x01010101u & ~keep;
    w = tm2_widen_word_rows(in_b + first, in_w, fb - fa, off2, 1, keep, fill, w);
  }
  for (; w != wend; w += 8) w[0] = 0, w[4] = 0;
}
#endif

/* Four pixels (repeating the last when fewer are left) whose filter rows are runs of run % 4 = 0 or 1 bytes
 * (in_c not a multiple of 4): four pixels of one output row whose taps are all inside the input are widened
 * straight from the input rows; otherwise pixel by pixel from their filter rows (tm2_pixel_rows: in the input,
 * or gathered with the zero point for taps outside). The 3x3 filters of three channels have their own
 * straight-line widening. */
static void tm2_im2col_rows(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t pix0, int32_t npix,
                            uint32_t *col, int8_t *bytes) {
  const int32_t in_c = p->in_c, fh = p->filter_h, fw = p->filter_w, kp = p->depth_padded;
  const int32_t run = fw * in_c;
  const int32_t off = p->input_offset;
  const int32_t rstride = p->dilation_h * p->in_w * in_c;
#if TM2_CONV_USE_DSP
  const int first_layer = fh == 3 && run == 9;
#endif
  const int8_t *rows[TM2_ROWS_MAX];
  int32_t oy = pix0 / p->out_w, ox = pix0 % p->out_w;
  if (npix == 4 && ox + 3 < p->out_w && p->dilation_w == 1) {
    /* four pixels of one output row, every tap inside: straight from the input rows */
    const int32_t iy0 = oy * p->stride_h - p->pad_h;
    const int32_t ix0 = ox * p->stride_w - p->pad_w;
    if (iy0 >= 0 && iy0 + (fh - 1) * p->dilation_h < p->in_h && ix0 >= 0 && ix0 + 3 * p->stride_w + fw <= p->in_w) {
      const int8_t *src = in_b + ((size_t)iy0 * p->in_w + ix0) * in_c;
      const int32_t ps = p->stride_w * in_c;
#if TM2_CONV_USE_DSP
      if (first_layer) {
        tm2_widen_rows_3x9_4(src, ps, rstride, off, col);
        return;
      }
#endif
      for (int32_t s = 0; s < 4; ++s, src += ps) tm2_widen_rows(NULL, src, rstride, fh, run, kp, off, col + s);
      return;
    }
  }
#if TM2_CONV_USE_DSP
  if (in_c == 1 && fw == 4 && p->dilation_w == 1) { /* one word per filter row (kws' 10x4 filters) */
    for (int32_t s = 0; s < 4; ++s) {
      tm2_widen_rows4(p, in_b, oy, ox, col + s);
      if (s + 1 < npix && ++ox == p->out_w) ox = 0, ++oy;
    }
    return;
  }
#endif
  for (int32_t s = 0; s < 4; ++s) {
    int8_t *buf = bytes + (size_t)s * kp;
    const int32_t iy0 = oy * p->stride_h - p->pad_h;
    const int32_t ix0 = ox * p->stride_w - p->pad_w;
    if (p->dilation_w == 1 && iy0 >= 0 && iy0 + (fh - 1) * p->dilation_h < p->in_h && ix0 >= 0 &&
        ix0 + fw <= p->in_w) { /* every tap inside: straight from the input rows */
      const int8_t *src = in_b + ((size_t)iy0 * p->in_w + ix0) * in_c;
#if TM2_CONV_USE_DSP
      if (first_layer) {
        const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
        tm2_widen_rows_3x9(src, src + rstride, src + 2 * rstride, off2, col + s);
      } else
#endif
      {
        tm2_widen_rows(NULL, src, rstride, fh, run, kp, off, col + s);
      }
#if TM2_CONV_USE_DSP
    } else if (in_c == 1 && fw == 4 && p->dilation_w == 1) { /* one word per filter row */
      tm2_widen_rows4_edge(p, in_b, oy, ox, col + s);
#endif
    } else if (fh <= TM2_ROWS_MAX) {
      tm2_pixel_rows(p, in_b, oy, ox, buf, rows);
#if TM2_CONV_USE_DSP
      if (first_layer) {
        const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
        tm2_widen_rows_3x9(rows[0], rows[1], rows[2], off2, col + s);
      } else
#endif
      {
        tm2_widen_rows(rows, NULL, 0, fh, run, kp, off, col + s);
      }
    } else {
      /* taller filters: the whole pixel gathered, rows run bytes apart */
      tm2_gather_pixel(p, in_b, oy, ox, buf);
      tm2_widen_rows(NULL, buf, run, fh, run, kp, off, col + s);
    }
    if (s + 1 < npix && ++ox == p->out_w) ox = 0, ++oy;
  }
}

/* The column block of output pixels pix0 .. pix0 + 3 (repeating the last pixel when fewer are left). */
static void tm2_im2col_block(const tm2_conv_packed_params *p, const int8_t *in_b, int32_t pix0, int32_t npix,
                             uint32_t *col, int8_t *bytes) {
  const int32_t in_c = p->in_c;
  const int32_t kp = p->depth_padded;
  if (tm2_conv_row_path(p)) {
    tm2_im2col_rows(p, in_b, pix0, npix, col, bytes);
    return;
  }
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
      tm2_widen4_rows(src, p->dilation_h * p->in_w * in_c, p->filter_h, p->stride_w * in_c, run, p->input_offset, col);
      return;
    }
    if (ox + 3 < p->out_w && p->dilation_w == 1 && p->dilation_h == 1) {
      tm2_im2col_edge4(p, in_b, iy0, ix0, col);
      return;
    }
  }
  if ((in_c & 3) != 0 && npix == 4 && ox + 3 < p->out_w && p->dilation_w == 1 && p->dilation_h == 1) {
    /* four pixels of one output row: a pixel whose taps are all inside is filter_h runs of filter_w * in_c
     * bytes; the others are gathered tap by tap (tm2_gather_pixel) */
    const int32_t iy0 = oy * p->stride_h - p->pad_h;
    const int32_t ix0 = ox * p->stride_w - p->pad_w;
    const int rows_in = iy0 >= 0 && iy0 + p->filter_h <= p->in_h;
    const size_t in_row = (size_t)p->in_w * in_c;
    const int32_t span = p->filter_w * in_c;
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t words = (span + 3) >> 2;
    for (int32_t s = 0; s < 4; ++s) {
      const int32_t ix = ix0 + s * p->stride_w;
      int8_t *dst = bytes + (size_t)s * kp;
      if (!rows_in || ix < 0 || ix + p->filter_w > p->in_w) {
        tm2_gather_pixel(p, in_b, oy, ox + s, dst);
        continue;
      }
      const int8_t *row = in_b + (size_t)iy0 * in_row + (size_t)ix * in_c;
      if (words <= 4) {
        /* runs of up to 16 bytes as whole words: the up to three bytes past a run belong to the next
         * filter row's run (written right after) and are read from the same or the next input row,
         * inside the input; the last run is copied exactly */
        for (int32_t fy = 0; fy + 1 < p->filter_h; ++fy, row += in_row, dst += span) tm2_copy_words(dst, row, words);
      } else {
        for (int32_t fy = 0; fy + 1 < p->filter_h; ++fy, row += in_row) dst = tm2_copy_run(dst, row, span);
      }
      dst = tm2_copy_run(dst, row, span);
      tm2_fill_tail(dst, bytes + (size_t)(s + 1) * kp, zp);
    }
    tm2_widen4(bytes, kp, kp, p->input_offset, col);
    return;
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

/* One requantisation record (tm2_conv_dsp.h) applied to a doubled accumulator: value plus output offset,
 * not yet clamped. */
static inline int32_t tm2_gemm_rq(int32_t acc2, const int32_t *r, int32_t mode, int32_t output_offset) {
  if (mode == TM2_RQ_HIGHMUL) {
    /* SMMLAR(acc2, m, hz) - [acc < 0], then >> e (see TM2_RQ_HIGHMUL in tm2_requant.h) */
    const int32_t v = (int32_t)(((int64_t)acc2 * r[0] + ((int64_t)1 << 31)) >> 32);
    return (int32_t)((uint32_t)v + (uint32_t)r[1] + (uint32_t)(acc2 >> 31)) >> r[2];
  }
  if (mode == TM2_RQ_HIGHMUL_E) return tm2_rq_highmul_e(acc2, r[0], r[1], r[2]); /* acc2: the scaled sum */
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
#define TM2_GEMM_UNROLL 72
#define TM2_GEMM_STEP4 TM2_GEMM_STEP TM2_GEMM_STEP TM2_GEMM_STEP TM2_GEMM_STEP
#define TM2_GEMM_STEP16 TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP4
#define TM2_GEMM_STEP72 TM2_GEMM_STEP16 TM2_GEMM_STEP16 TM2_GEMM_STEP16 TM2_GEMM_STEP16 TM2_GEMM_STEP4 TM2_GEMM_STEP4

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
/* TM2_RQ_HIGHMUL_E (m in w0, hz' in w1) with the shift E (a string) in SSAT: two instructions. One name per E
 * of TM2_CONV_RQ_SHIFTS (TM2_GEMM_RQ_E<E>), to be passed as RQ like the two above. */
#define TM2_GEMM_RQ_SHIFT(A, E)                        \
  "smmla %[" A "], %[" A "], %[w0], %[w1]\n\t"          \
  "ssat %[" A "], #8, %[" A "], asr #" E "\n\t"
#define TM2_GEMM_RQ_E10(A) TM2_GEMM_RQ_SHIFT(A, "10")
#define TM2_GEMM_RQ_E11(A) TM2_GEMM_RQ_SHIFT(A, "11")
#define TM2_GEMM_RQ_E12(A) TM2_GEMM_RQ_SHIFT(A, "12")
#define TM2_GEMM_RQ_E13(A) TM2_GEMM_RQ_SHIFT(A, "13")
#define TM2_GEMM_RQ_E14(A) TM2_GEMM_RQ_SHIFT(A, "14")

/* The loads of one record for RQ (TM2_GEMM_REC(RQ): RQ's name with _REC): m into w0, hz into w1, e into x0;
 * TM2_RQ_HIGHMUL_E's shift is in the code, so its third word is skipped. */
#define TM2_GEMM_REC(RQ) RQ##_REC
#define TM2_GEMM_REC3                  \
  "ldr %[w0], [%[pw]], #4\n\t"         \
  "ldr %[w1], [%[pw]], #4\n\t"         \
  "ldr %[x0], [%[pw]], #4\n\t"
#define TM2_GEMM_REC2                  \
  "ldr %[w0], [%[pw]], #4\n\t"         \
  "ldr %[w1], [%[pw]], #8\n\t"
#define TM2_GEMM_RQ_SIGNED_REC TM2_GEMM_REC3
#define TM2_GEMM_RQ_LOW_REC TM2_GEMM_REC3
#define TM2_GEMM_RQ_E10_REC TM2_GEMM_REC2
#define TM2_GEMM_RQ_E11_REC TM2_GEMM_REC2
#define TM2_GEMM_RQ_E12_REC TM2_GEMM_REC2
#define TM2_GEMM_RQ_E13_REC TM2_GEMM_REC2
#define TM2_GEMM_RQ_E14_REC TM2_GEMM_REC2

/* The first position pair of a channel pair (prologue): its sums start from the pair's biases. The exact-step
 * variants (TM2_GEMM_PAIRS_X) run their steps right after it. */
#define TM2_GEMM_PROLOGUE_X                 \
  "ldr %[px], %[colm]\n\t"                 \
  "ldr %[a2], [%[pw]], #4\n\t"             \
  "ldr %[b2], [%[pw]], #4\n\t"             \
  "ldr %[w0], [%[pw]], #4\n\t"             \
  "ldr %[w1], [%[pw]], #4\n\t"             \
  "ldr %[x0], [%[px]], #4\n\t"             \
  "ldr %[x1], [%[px]], #4\n\t"             \
  "smlad %[a0], %[x0], %[w0], %[a2]\n\t"   \
  "smlad %[b0], %[x0], %[w1], %[b2]\n\t"   \
  "smlad %[a1], %[x1], %[w0], %[a2]\n\t"   \
  "smlad %[b1], %[x1], %[w1], %[b2]\n\t"   \
  "ldr %[x0], [%[px]], #4\n\t"             \
  "ldr %[x1], [%[px]], #4\n\t"             \
  "smlad %[a3], %[x1], %[w0], %[a2]\n\t"   \
  "smlad %[b3], %[x1], %[w1], %[b2]\n\t"   \
  "smlad %[a2], %[x0], %[w0], %[a2]\n\t"   \
  "smlad %[b2], %[x0], %[w1], %[b2]\n\t"
/* TM2_GEMM_PROLOGUE_X, then the jump to `entry` in the unrolled steps (so the remainder of the steps runs
 * first). */
#define TM2_GEMM_PROLOGUE TM2_GEMM_PROLOGUE_X "ldr pc, %[entry]\n\t"
#define TM2_GEMM_STEP3 TM2_GEMM_STEP TM2_GEMM_STEP TM2_GEMM_STEP
#define TM2_GEMM_STEP7 TM2_GEMM_STEP4 TM2_GEMM_STEP3
#define TM2_GEMM_STEP13 TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP
#define TM2_GEMM_STEP15 TM2_GEMM_STEP4 TM2_GEMM_STEP4 TM2_GEMM_STEP7
#define TM2_GEMM_STEP19 TM2_GEMM_STEP16 TM2_GEMM_STEP3
#define TM2_GEMM_STEP31 TM2_GEMM_STEP16 TM2_GEMM_STEP15
#define TM2_GEMM_STEP63 TM2_GEMM_STEP16 TM2_GEMM_STEP16 TM2_GEMM_STEP31

/* The end of one pass of TM2_GEMM_UNROLL steps: back for another pass until the column's end. Left out
 * (TM2_GEMM_ONE_PASS) when the steps after the prologue fit in one pass. */
#define TM2_GEMM_MORE_PASSES               \
  "ldr %[x0], %[colend]\n\t"               \
  "cmp %[px], %[x0]\n\t"                   \
  "bne 1b\n\t"
#define TM2_GEMM_ONE_PASS ""

/* The requantisation of a channel pair's eight sums (its two records at pw) and their stores at the output
 * pointer in memory (om, advanced by two channels), then the flags of the pair-end test (pw vs wend). */
#define TM2_GEMM_RQ_STORE(RQ)                                                                             \
      TM2_GEMM_REC(RQ) RQ("a0") RQ("a1") RQ("a2") RQ("a3")                                              \
      TM2_GEMM_REC(RQ) RQ("b0") RQ("b1") RQ("b2") RQ("b3")                                              \
      "ldr %[w0], %[om]\n\t"                                                                            \
      "ldr %[w1], %[ocm]\n\t"                                                                           \
      "ldr %[px], %[wend]\n\t"                                                                          \
      "strb %[a0], [%[w0]]\n\t"                                                                         \
      "strb %[b0], [%[w0], #1]\n\t"                                                                     \
      "add %[x0], %[w0], %[w1]\n\t"                                                                     \
      "add %[w0], %[w0], #2\n\t"                                                                        \
      "strb %[a1], [%[x0]]\n\t"                                                                         \
      "strb %[b1], [%[x0], #1]\n\t"                                                                     \
      "add %[x1], %[x0], %[w1]\n\t"                                                                     \
      "str %[w0], %[om]\n\t"                                                                            \
      "strb %[a2], [%[x1]]\n\t"                                                                         \
      "strb %[b2], [%[x1], #1]\n\t"                                                                     \
      "add %[x0], %[x1], %[w1]\n\t"                                                                     \
      "cmp %[pw], %[px]\n\t"                                                                            \
      "strb %[a3], [%[x0]]\n\t"                                                                         \
      "strb %[b3], [%[x0], #1]\n\t"

/* Every full channel pair of one 4-pixel block, in registers: per pair the prologue, the steps (TM2_GEMM_STEP,
 * TM2_GEMM_UNROLL of them unrolled, entered at `entry`; PASSES: TM2_GEMM_MORE_PASSES or TM2_GEMM_ONE_PASS),
 * then the requantisation of the eight sums and their stores (pixel s, channels c and c + 1 at o + s * out_c),
 * and, unless that was the last pair, the next pair's prologue (no branch back). Loop state lives in memory
 * operands (stack slots): the product needs all fourteen usable registers. */
#define TM2_GEMM_PAIRS(RQ, PASSES)                                                                      \
  __asm__ volatile(                                                                                     \
      "adr %[x0], 1f\n\t"                                                                               \
      "ldr %[x1], %[eoff]\n\t"                                                                          \
      "add %[x0], %[x0], %[x1]\n\t"                                                                     \
      "orr %[x0], %[x0], #1\n\t"                                                                        \
      "str %[x0], %[entry]\n\t" TM2_GEMM_PROLOGUE                                                       \
      "1:\n\t" TM2_GEMM_STEP72 PASSES                                                                   \
      TM2_GEMM_RQ_STORE(RQ)                                                                             \
      "beq 2f\n\t" TM2_GEMM_PROLOGUE                                                                    \
      "2:\n\t"                                                                                          \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [px] "=&r"(px), [pw] "+r"(pw), [om] "+m"(op), [entry] "=m"(entry)                               \
      : [colm] "m"(col), [colend] "m"(col_end), [eoff] "m"(eoff), [ocm] "m"(out_c), [wend] "m"(wend)     \
      : "cc", "memory")

/* TM2_GEMM_PAIRS for layers whose steps after the prologue are exactly STEPS (TM2_GEMM_STEP3 .. TM2_GEMM_STEP63):
 * the steps follow the prologue straight-line (no computed jump); two pairs per loop step (TM2_GEMM_PAIR_X: one
 * pair, its end test's flags set for the branch after it). */
#define TM2_GEMM_PAIR_X(RQ, STEPS)                                                                          \
      TM2_GEMM_PROLOGUE_X STEPS                                                                \
      TM2_GEMM_RQ_STORE(RQ)

#define TM2_GEMM_PAIRS_X(RQ, STEPS)                                                                         \
  __asm__ volatile(                                                                                     \
      "1:\n\t" TM2_GEMM_PAIR_X(RQ, STEPS) "beq 2f\n\t" TM2_GEMM_PAIR_X(RQ, STEPS) "bne 1b\n\t"           \
      "2:\n\t"                                                                                          \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [px] "=&r"(px), [pw] "+r"(pw), [om] "+m"(op)                               \
      : [colm] "m"(col), [ocm] "m"(out_c), [wend] "m"(wend)     \
      : "cc", "memory")

/* TM2_GEMM_PAIRS_X with one channel pair a loop step (a taken branch a pair): half the code of the two-pair loop,
 * for Kp 64 and 128 where no out_c-specialised loop applies (one Kp 128 pair is about 4 KB of code). */
#define TM2_GEMM_PAIRS_X1(RQ, STEPS)                                                                        \
  __asm__ volatile(                                                                                     \
      "1:\n\t" TM2_GEMM_PAIR_X(RQ, STEPS) "bne 1b\n\t"                                                    \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [px] "=&r"(px), [pw] "+r"(pw), [om] "+m"(op)                                                    \
      : [colm] "m"(col), [ocm] "m"(out_c), [wend] "m"(wend)                                             \
      : "cc", "memory")

/* TM2_GEMM_PAIR_X for a build-time out_c OC: the eight stores at immediate offsets from op (no out_c load, no
 * address adds); op loaded with the first channel's record words, the end of the records (into a0, stored by
 * then) with the second's: two runs of pipelined loads instead of three. The first store moves op on by the two
 * channels (post-indexed), so the others' offsets (TM2_GEMM_XC_OFFSETS) are two less. */
#define TM2_GEMM_PAIR_XC(RQ, STEPS)                                                                         \
      TM2_GEMM_PROLOGUE_X STEPS TM2_GEMM_REC(RQ)                                                \
      "ldr %[px], %[om]\n\t" RQ("a0") RQ("a1") RQ("a2") RQ("a3")                                        \
      "strb %[a0], [%[px]], #2\n\t"                                                                     \
      "strb %[a1], [%[px], %[c1]]\n\t"                                                                  \
      "strb %[a2], [%[px], %[c2]]\n\t"                                                                  \
      "strb %[a3], [%[px], %[c3]]\n\t" TM2_GEMM_REC(RQ)                                                 \
      "ldr %[a0], %[wend]\n\t" RQ("b0") RQ("b1") RQ("b2") RQ("b3")                                      \
      "strb %[b0], [%[px], #-1]\n\t"                                                                    \
      "strb %[b1], [%[px], %[c1b]]\n\t"                                                                 \
      "strb %[b2], [%[px], %[c2b]]\n\t"                                                                 \
      "strb %[b3], [%[px], %[c3b]]\n\t"                                                                 \
      "cmp %[pw], %[a0]\n\t"                                                                            \
      "str %[px], %[om]\n\t"
/* The store offsets of TM2_GEMM_PAIR_XC (pixel s = 1 .. 3, channel c and c + 1 at s OC and s OC + 1 from the op
 * before its move by two). */
#define TM2_GEMM_XC_OFFSETS(OC)                                                                   \
  [c1] "i"((OC) - 2), [c1b] "i"((OC) - 1), [c2] "i"(2 * (OC) - 2), [c2b] "i"(2 * (OC) - 1),       \
      [c3] "i"(3 * (OC) - 2), [c3b] "i"(3 * (OC) - 1)

#define TM2_GEMM_PAIRS_XC(RQ, STEPS, OC)                                                                    \
  __asm__ volatile(                                                                                     \
      "1:\n\t" TM2_GEMM_PAIR_XC(RQ, STEPS) "beq 2f\n\t" TM2_GEMM_PAIR_XC(RQ, STEPS) "bne 1b\n\t"         \
      "2:\n\t"                                                                                          \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [px] "=&r"(px), [pw] "+r"(pw), [om] "+m"(op)                                                    \
      : [colm] "m"(col), [wend] "m"(wend), TM2_GEMM_XC_OFFSETS(OC)                                      \
      : "cc", "memory")

/* Four channel pairs a loop step for a build-time out_c OC, a multiple of 8 (OC and K as assembler expressions,
 * TM2_GEMM_XSTR): pair K (0 .. 3) of the step stores at immediate offsets 2 K (+ 1) + s OC from op; op moves by
 * eight channels and the end of the records is tested once a step (pair 3, its second record run loading the end
 * into a0), instead of after every pair as in TM2_GEMM_PAIR_XC. */
#define TM2_GEMM_STR(x) #x
#define TM2_GEMM_XSTR(x) TM2_GEMM_STR(x)
#define TM2_GEMM_PAIR_Q(RQ, STEPS, OC, K, ENDLOAD)                                                          \
      TM2_GEMM_PROLOGUE_X STEPS TM2_GEMM_REC(RQ)                                                        \
      "ldr %[px], %[om]\n\t" RQ("a0") RQ("a1") RQ("a2") RQ("a3")                                        \
      "strb %[a0], [%[px], #(2*" K ")]\n\t"                                                             \
      "strb %[a1], [%[px], #(2*" K "+" OC ")]\n\t"                                                      \
      "strb %[a2], [%[px], #(2*" K "+2*" OC ")]\n\t"                                                    \
      "strb %[a3], [%[px], #(2*" K "+3*" OC ")]\n\t" TM2_GEMM_REC(RQ)                                   \
      ENDLOAD RQ("b0") RQ("b1") RQ("b2") RQ("b3")                                                        \
      "strb %[b0], [%[px], #(2*" K "+1)]\n\t"                                                           \
      "strb %[b1], [%[px], #(2*" K "+1+" OC ")]\n\t"                                                    \
      "strb %[b2], [%[px], #(2*" K "+1+2*" OC ")]\n\t"                                                  \
      "strb %[b3], [%[px], #(2*" K "+1+3*" OC ")]\n\t"

#define TM2_GEMM_PAIRS_Q(RQ, STEPS, OC)                                                                     \
  __asm__ volatile(                                                                                     \
      "1:\n\t" TM2_GEMM_PAIR_Q(RQ, STEPS, TM2_GEMM_XSTR(OC), "0", "")                                   \
      TM2_GEMM_PAIR_Q(RQ, STEPS, TM2_GEMM_XSTR(OC), "1", "")                                            \
      TM2_GEMM_PAIR_Q(RQ, STEPS, TM2_GEMM_XSTR(OC), "2", "")                                            \
      TM2_GEMM_PAIR_Q(RQ, STEPS, TM2_GEMM_XSTR(OC), "3", "ldr %[a0], %[wend]\n\t")                      \
      "add %[px], %[px], #8\n\t"                                                                        \
      "cmp %[pw], %[a0]\n\t"                                                                            \
      "str %[px], %[om]\n\t"                                                                            \
      "bne 1b\n\t"                                                                                      \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [px] "=&r"(px), [pw] "+r"(pw), [om] "+m"(op)                                                    \
      : [colm] "m"(col), [wend] "m"(wend)                                                               \
      : "cc", "memory")

/* Constant-column forms for TM2_RQ_HIGHMUL_E records (the pointwise loops of Kp 32 .. 128, the 10x4 first layer): the
 * column pointer px stays at the block's column, every column load at an immediate offset (the assembler symbol
 * tm2_k counts the position pairs), so no pair reloads it; both channels' records (m, hz) load in one run (w0, w1 for
 * channel c, x0, x1 for c + 1) and the output pointer into w0 after all eight requantisations. Per channel pair one
 * load fewer than the forms above. The loops start at a word boundary, so that no 32-bit instruction straddles a 1 KB
 * code page (the counting emulator splits blocks there). TM2_GEMM_KSTEPS(N): N steps after the prologue (a decimal
 * number). */
#define TM2_GEMM_KSTEP                         \
  "ldr %[w0], [%[pw]], #4\n\t"                 \
  "ldr %[w1], [%[pw]], #4\n\t"                 \
  "ldr %[x0], [%[px], #tm2_k]\n\t"             \
  "ldr %[x1], [%[px], #tm2_k+4]\n\t"           \
  "smlad %[a0], %[x0], %[w0], %[a0]\n\t"       \
  "smlad %[b0], %[x0], %[w1], %[b0]\n\t"       \
  "smlad %[a1], %[x1], %[w0], %[a1]\n\t"       \
  "smlad %[b1], %[x1], %[w1], %[b1]\n\t"       \
  "ldr %[x0], [%[px], #tm2_k+8]\n\t"           \
  "ldr %[x1], [%[px], #tm2_k+12]\n\t"          \
  "smlad %[a2], %[x0], %[w0], %[a2]\n\t"       \
  "smlad %[b2], %[x0], %[w1], %[b2]\n\t"       \
  "smlad %[a3], %[x1], %[w0], %[a3]\n\t"       \
  "smlad %[b3], %[x1], %[w1], %[b3]\n\t"       \
  ".set tm2_k, tm2_k + 16\n\t"
#define TM2_GEMM_KSTEPS(N) ".set tm2_k, 16\n\t.rept " #N "\n\t" TM2_GEMM_KSTEP ".endr\n\t"
/* The first position pair (TM2_GEMM_PROLOGUE_X without the column pointer's reload). */
#define TM2_GEMM_KPROLOGUE                     \
  "ldr %[a2], [%[pw]], #4\n\t"                 \
  "ldr %[b2], [%[pw]], #4\n\t"                 \
  "ldr %[w0], [%[pw]], #4\n\t"                 \
  "ldr %[w1], [%[pw]], #4\n\t"                 \
  "ldr %[x0], [%[px]]\n\t"                     \
  "ldr %[x1], [%[px], #4]\n\t"                 \
  "smlad %[a0], %[x0], %[w0], %[a2]\n\t"       \
  "smlad %[b0], %[x0], %[w1], %[b2]\n\t"       \
  "smlad %[a1], %[x1], %[w0], %[a2]\n\t"       \
  "smlad %[b1], %[x1], %[w1], %[b2]\n\t"       \
  "ldr %[x0], [%[px], #8]\n\t"                 \
  "ldr %[x1], [%[px], #12]\n\t"                \
  "smlad %[a3], %[x1], %[w0], %[a2]\n\t"       \
  "smlad %[b3], %[x1], %[w1], %[b2]\n\t"       \
  "smlad %[a2], %[x0], %[w0], %[a2]\n\t"       \
  "smlad %[b2], %[x0], %[w1], %[b2]\n\t"
/* TM2_RQ_HIGHMUL_E of accumulator A, multiplier in M, offset in H, shift E (a string). */
#define TM2_GEMM_RQK(A, M, H, E)                        \
  "smmla %[" A "], %[" A "], %[" M "], %[" H "]\n\t"     \
  "ssat %[" A "], #8, %[" A "], asr #" E "\n\t"
/* The output pointer (op) and the end of the records (wend) of the constant-column loops: with an FPU in the single
 * registers s15 and s14 for the loop (VMOV to or from a core register: one cycle, where a load that starts a run
 * takes two), copied there before the loop and op back after it; without one in their memory operands. */
#if defined(__ARM_FP)
#define TM2_GEMM_KOP_INIT                  \
  "ldr %[w0], %[om]\n\t"                   \
  "ldr %[w1], %[wend]\n\t"                 \
  "vmov s15, %[w0]\n\t"                    \
  "vmov s14, %[w1]\n\t"
#define TM2_GEMM_KOP_GET "vmov %[w0], s15\n\t"
#define TM2_GEMM_KEND_GET "vmov %[w1], s14\n\t"
#define TM2_GEMM_KOP_PUT "vmov s15, %[w0]\n\t"
#define TM2_GEMM_KOP_DONE "str %[w0], %[om]\n\t"
#define TM2_GEMM_KOP_GET_X1 "vmov %[x1], s15\n\t"
#define TM2_GEMM_KOP_PUT_X1 "vmov s15, %[x1]\n\t"
#define TM2_GEMM_KOP_DONE_X1 "str %[x1], %[om]\n\t"
#define TM2_GEMM_KEND_INIT_X2 "ldr %[x2], %[wend]\n\t" "vmov s14, %[x2]\n\t"
#define TM2_GEMM_KEND_GET_X2 "vmov %[x2], s14\n\t"
#define TM2_GEMM_KCLOBBERS , "s14", "s15"
#else
#define TM2_GEMM_KOP_INIT ""
#define TM2_GEMM_KOP_GET "ldr %[w0], %[om]\n\t"
#define TM2_GEMM_KEND_GET "ldr %[w1], %[wend]\n\t"
#define TM2_GEMM_KOP_PUT "str %[w0], %[om]\n\t"
#define TM2_GEMM_KOP_DONE ""
#define TM2_GEMM_KOP_GET_X1 "ldr %[x1], %[om]\n\t"
#define TM2_GEMM_KOP_PUT_X1 "str %[x1], %[om]\n\t"
#define TM2_GEMM_KOP_DONE_X1 ""
#define TM2_GEMM_KEND_INIT_X2 ""
#define TM2_GEMM_KEND_GET_X2 "ldr %[x2], %[wend]\n\t"
#define TM2_GEMM_KCLOBBERS
#endif
/* One channel pair of the constant-column forms up to its stores: the eight outputs in a0 .. b3, the output pointer
 * in w0 (ENDLOAD: "" or TM2_GEMM_KEND_GET, the end of the records into w1), fetched before the last requantisation
 * so that the first store's address register is not written by the instruction right before it. */
#define TM2_GEMM_KPAIR(E, N, ENDLOAD)                                                                     \
  TM2_GEMM_KPROLOGUE TM2_GEMM_KSTEPS(N)                                                                 \
  "ldr %[w0], [%[pw]], #4\n\t"                                                                          \
  "ldr %[w1], [%[pw]], #8\n\t"                                                                          \
  "ldr %[x0], [%[pw]], #4\n\t"                                                                          \
  "ldr %[x1], [%[pw]], #8\n\t" TM2_GEMM_RQK("a0", "w0", "w1", E) TM2_GEMM_RQK("a1", "w0", "w1", E)       \
  TM2_GEMM_RQK("a2", "w0", "w1", E) TM2_GEMM_RQK("a3", "w0", "w1", E) TM2_GEMM_RQK("b0", "x0", "x1", E)  \
  TM2_GEMM_RQK("b1", "x0", "x1", E) TM2_GEMM_RQK("b2", "x0", "x1", E) TM2_GEMM_KOP_GET ENDLOAD           \
  TM2_GEMM_RQK("b3", "x0", "x1", E)
/* The stores of pair K (0 .. 3) of a TM2_GEMM_PAIRS_QK step at immediate offsets 2 K (+ 1) + s OC from w0. */
#define TM2_GEMM_KSTORE_Q(OC, K)                                  \
  "strb %[a0], [%[w0], #(2*" K ")]\n\t"                          \
  "strb %[a1], [%[w0], #(2*" K "+" OC ")]\n\t"                   \
  "strb %[a2], [%[w0], #(2*" K "+2*" OC ")]\n\t"                 \
  "strb %[a3], [%[w0], #(2*" K "+3*" OC ")]\n\t"                 \
  "strb %[b0], [%[w0], #(2*" K "+1)]\n\t"                        \
  "strb %[b1], [%[w0], #(2*" K "+1+" OC ")]\n\t"                 \
  "strb %[b2], [%[w0], #(2*" K "+1+2*" OC ")]\n\t"               \
  "strb %[b3], [%[w0], #(2*" K "+1+3*" OC ")]\n\t"
/* TM2_GEMM_PAIRS_Q in the constant-column form: shift E and N steps after the prologue (strings), OC a build-time
 * out_c, a multiple of 8; col: the block's column. */
#define TM2_GEMM_PAIRS_QK(E, N, OC)                                                                     \
  __asm__ volatile(                                                                                     \
      TM2_GEMM_KOP_INIT                                                                                 \
      ".p2align 2\n\t"                                                                                  \
      "1:\n\t" TM2_GEMM_KPAIR(E, N, "") TM2_GEMM_KSTORE_Q(TM2_GEMM_XSTR(OC), "0")                       \
      TM2_GEMM_KPAIR(E, N, "") TM2_GEMM_KSTORE_Q(TM2_GEMM_XSTR(OC), "1")                                 \
      TM2_GEMM_KPAIR(E, N, "") TM2_GEMM_KSTORE_Q(TM2_GEMM_XSTR(OC), "2")                                 \
      TM2_GEMM_KPAIR(E, N, TM2_GEMM_KEND_GET) TM2_GEMM_KSTORE_Q(TM2_GEMM_XSTR(OC), "3")                  \
      "add %[w0], %[w0], #8\n\t"                                                                        \
      "cmp %[pw], %[w1]\n\t" TM2_GEMM_KOP_PUT                                                           \
      "bne 1b\n\t" TM2_GEMM_KOP_DONE                                                                    \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [pw] "+r"(pw), [om] "+m"(op)                                                                    \
      : [px] "r"(col), [wend] "m"(wend)                                                                 \
      : "cc", "memory" TM2_GEMM_KCLOBBERS)
/* A channel pair's eight outputs at the output pointer P (a string: "w0", "x1"), pixels OC bytes apart (a string):
 * channel a's first store moves P on by the pair's two channels, so that channel b's are one byte back. */
#define TM2_GEMM_STORE_A4(P, OC)                 \
  "strb %[a0], [%[" P "]], #2\n\t"               \
  "strb %[a1], [%[" P "], #(" OC "-2)]\n\t"      \
  "strb %[a2], [%[" P "], #(2*" OC "-2)]\n\t"    \
  "strb %[a3], [%[" P "], #(3*" OC "-2)]\n\t"
#define TM2_GEMM_STORE_B4(P, OC)                 \
  "strb %[b0], [%[" P "], #-1]\n\t"              \
  "strb %[b1], [%[" P "], #(" OC "-1)]\n\t"      \
  "strb %[b2], [%[" P "], #(2*" OC "-1)]\n\t"    \
  "strb %[b3], [%[" P "], #(3*" OC "-1)]\n\t"
/* One channel pair a loop step in the constant-column form for a build-time out_c OC (a string; the first store moves
 * the output pointer on by the pair's two channels, the others at immediate offsets from it). */
#define TM2_GEMM_PAIRS_C1K(E, N, OC)                                                                    \
  __asm__ volatile(                                                                                     \
      TM2_GEMM_KOP_INIT                                                                                 \
      ".p2align 2\n\t"                                                                                  \
      "1:\n\t" TM2_GEMM_KPAIR(E, N, TM2_GEMM_KEND_GET)                                                  \
      TM2_GEMM_STORE_A4("w0", OC)                                                                       \
      TM2_GEMM_STORE_B4("w0", OC)                                                                       \
      "cmp %[pw], %[w1]\n\t" TM2_GEMM_KOP_PUT                                                           \
      "bne 1b\n\t" TM2_GEMM_KOP_DONE                                                                    \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [pw] "+r"(pw), [om] "+m"(op)                                                                    \
      : [px] "r"(col), [wend] "m"(wend)                                                                 \
      : "cc", "memory" TM2_GEMM_KCLOBBERS)
/* TM2_GEMM_PAIRS_C1K for TM2_RQ_HIGHMUL records with output offset -128 (TM2_GEMM_RQ_LOW: m, hz and e of a channel,
 * three words): each channel's record in a run of three loads (w0, w1, x0), its four requantisations and stores, the
 * output pointer in x1. */
#define TM2_GEMM_PAIRS_C1KL(N, OC)                                                                      \
  __asm__ volatile(                                                                                     \
      TM2_GEMM_KOP_INIT                                                                                 \
      ".p2align 2\n\t"                                                                                  \
      "1:\n\t" TM2_GEMM_KPROLOGUE TM2_GEMM_KSTEPS(N) TM2_GEMM_REC3 TM2_GEMM_KOP_GET_X1                   \
      TM2_GEMM_RQ_LOW("a0") TM2_GEMM_RQ_LOW("a1") TM2_GEMM_RQ_LOW("a2") TM2_GEMM_RQ_LOW("a3")           \
      TM2_GEMM_STORE_A4("x1", OC) TM2_GEMM_REC3                                                         \
      TM2_GEMM_RQ_LOW("b0") TM2_GEMM_RQ_LOW("b1") TM2_GEMM_RQ_LOW("b2") TM2_GEMM_RQ_LOW("b3")           \
      TM2_GEMM_KEND_GET                                                                                 \
      TM2_GEMM_STORE_B4("x1", OC)                                                                       \
      "cmp %[pw], %[w1]\n\t" TM2_GEMM_KOP_PUT_X1                                                        \
      "bne 1b\n\t" TM2_GEMM_KOP_DONE_X1                                                                 \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),  \
        [pw] "+r"(pw), [om] "+m"(op)                                                                    \
      : [px] "r"(col), [wend] "m"(wend)                                                                 \
      : "cc", "memory" TM2_GEMM_KCLOBBERS)
/* The constant-column form for blocks of three pixels (column slots 0 .. 2 at px): six sums a channel pair, so that
 * the output pointer op stays in a register (thirteen registers besides it). A position pair is two weight words
 * and three column words in one run of loads (six cycles) and six SMLADs: one cycle per multiply-accumulate, like the
 * 4-pixel step; for layers whose pixel count is a multiple of three and not of four (vww's last two pointwise
 * layers, 3 x 3 pixels), where 4-pixel blocks leave one or two pixels to tm2_gemm_pixel. */
#define TM2_GEMM_K3STEP                        \
  "ldr %[w0], [%[pw]], #4\n\t"                 \
  "ldr %[w1], [%[pw]], #4\n\t"                 \
  "ldr %[x0], [%[px], #tm2_k]\n\t"             \
  "ldr %[x1], [%[px], #tm2_k+4]\n\t"           \
  "ldr %[x2], [%[px], #tm2_k+8]\n\t"           \
  "smlad %[a0], %[x0], %[w0], %[a0]\n\t"       \
  "smlad %[b0], %[x0], %[w1], %[b0]\n\t"       \
  "smlad %[a1], %[x1], %[w0], %[a1]\n\t"       \
  "smlad %[b1], %[x1], %[w1], %[b1]\n\t"       \
  "smlad %[a2], %[x2], %[w0], %[a2]\n\t"       \
  "smlad %[b2], %[x2], %[w1], %[b2]\n\t"       \
  ".set tm2_k, tm2_k + 16\n\t"
/* The first position pair: the sums start from the pair's biases (a2, b2). */
#define TM2_GEMM_K3PROLOGUE                    \
  "ldr %[a2], [%[pw]], #4\n\t"                 \
  "ldr %[b2], [%[pw]], #4\n\t"                 \
  "ldr %[w0], [%[pw]], #4\n\t"                 \
  "ldr %[w1], [%[pw]], #4\n\t"                 \
  "ldr %[x0], [%[px]]\n\t"                     \
  "ldr %[x1], [%[px], #4]\n\t"                 \
  "ldr %[x2], [%[px], #8]\n\t"                 \
  "smlad %[a0], %[x0], %[w0], %[a2]\n\t"       \
  "smlad %[b0], %[x0], %[w1], %[b2]\n\t"       \
  "smlad %[a1], %[x1], %[w0], %[a2]\n\t"       \
  "smlad %[b1], %[x1], %[w1], %[b2]\n\t"       \
  "smlad %[a2], %[x2], %[w0], %[a2]\n\t"       \
  "smlad %[b2], %[x2], %[w1], %[b2]\n\t"
/* Every channel pair of a 3-pixel block, one a loop step: shift E and N steps after the prologue (strings), OC a
 * build-time out_c (a string); both channels' records (m, hz') in one run, the stores at immediate offsets from op
 * (the first moves it on by the pair's two channels), the end of the records from s14 (or memory). */
#define TM2_GEMM_PAIRS_3K(E, N, OC)                                                                      \
  __asm__ volatile(                                                                                     \
      TM2_GEMM_KEND_INIT_X2                                                                             \
      ".p2align 2\n\t"                                                                                  \
      "1:\n\t" TM2_GEMM_K3PROLOGUE ".set tm2_k, 16\n\t.rept " N "\n\t" TM2_GEMM_K3STEP ".endr\n\t"         \
      "ldr %[w0], [%[pw]], #4\n\t"                                                                      \
      "ldr %[w1], [%[pw]], #8\n\t"                                                                      \
      "ldr %[x0], [%[pw]], #4\n\t"                                                                      \
      "ldr %[x1], [%[pw]], #8\n\t" TM2_GEMM_RQK("a0", "w0", "w1", E) TM2_GEMM_RQK("a1", "w0", "w1", E)   \
      TM2_GEMM_RQK("a2", "w0", "w1", E) TM2_GEMM_RQK("b0", "x0", "x1", E) TM2_GEMM_RQK("b1", "x0", "x1", E) \
      TM2_GEMM_RQK("b2", "x0", "x1", E) TM2_GEMM_KEND_GET_X2                                             \
      "strb %[a0], [%[op]], #2\n\t"                                                                     \
      "strb %[a1], [%[op], #(" OC "-2)]\n\t"                                                            \
      "strb %[a2], [%[op], #(2*" OC "-2)]\n\t"                                                          \
      "strb %[b0], [%[op], #-1]\n\t"                                                                    \
      "strb %[b1], [%[op], #(" OC "-1)]\n\t"                                                            \
      "strb %[b2], [%[op], #(2*" OC "-1)]\n\t"                                                          \
      "cmp %[pw], %[x2]\n\t"                                                                            \
      "bne 1b\n\t"                                                                                      \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2), \
        [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [pw] "+r"(pw),  \
        [op] "+r"(op)                                                                                   \
      : [px] "r"(px), [wend] "m"(wend)                                                                  \
      : "cc", "memory" TM2_GEMM_KCLOBBERS)
#endif

#if TM2_CONV_USE_DSP
/* One position pair of tm2_gemm_pixel's two-channel-pair loop: the pair's weight words of both channel pairs
 * (pw, qw) and the pixel's column word (px; slots 16 bytes apart), four multiply-accumulates. */
#define TM2_PIXEL_STEP                    \
  "ldr %[w0], [%[pw]], #4\n\t"            \
  "ldr %[w1], [%[pw]], #4\n\t"            \
  "ldr %[w2], [%[qw]], #4\n\t"            \
  "ldr %[w3], [%[qw]], #4\n\t"            \
  "ldr %[x0], [%[px]], #16\n\t"           \
  "smlad %[a], %[x0], %[w0], %[a]\n\t"    \
  "smlad %[b], %[x0], %[w1], %[b]\n\t"    \
  "smlad %[d], %[x0], %[w2], %[d]\n\t"    \
  "smlad %[e], %[x0], %[w3], %[e]\n\t"

/* TM2_PIXEL_STEP 2, 4 and 8 times; the product over position pairs of tm2_gemm_pixel's two-channel-pair loop:
 * straight-line (TM2_PIXEL_RUN) or a loop to the column's end (TM2_PIXEL_LOOP). */
#define TM2_PIXEL_STEP2 TM2_PIXEL_STEP TM2_PIXEL_STEP
#define TM2_PIXEL_STEP4 TM2_PIXEL_STEP2 TM2_PIXEL_STEP2
#define TM2_PIXEL_STEP8 TM2_PIXEL_STEP4 TM2_PIXEL_STEP4
#define TM2_PIXEL_OPERANDS                                                                                        \
  [a] "+r"(a), [b] "+r"(b), [d] "+r"(d), [e] "+r"(e), [pw] "+r"(pw), [qw] "+r"(qw), [px] "+r"(px), [w0] "=&r"(w0), \
      [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [x0] "=&r"(x0)
#define TM2_PIXEL_RUN(STEPS) __asm__ volatile(STEPS : TM2_PIXEL_OPERANDS : : "memory")
#define TM2_PIXEL_LOOP(STEPS) \
  __asm__ volatile("1:\n\t" STEPS "cmp %[px], %[end]\n\t" "bne 1b\n\t" : TM2_PIXEL_OPERANDS : [end] "r"(cend) : "cc", "memory")
/* TM2_RQ_HIGHMUL_E of accumulator A (multiplier M, offset H, shift in sh) to a saturated int8 value. */
#define TM2_PIXEL_RQE(A, M, H)                    \
  "smmla %[" A "], %[" A "], %[" M "], %[" H "]\n\t" \
  "asr %[" A "], %[" A "], %[sh]\n\t"              \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* Every full channel pair for one pixel: column slot col (its word of position pair j at col[4 j]), outputs at
 * o, o + 1, ... (TM2_RQ_HIGHMUL records, full int8 range; zp -128 leaves the sign correction out; or mode
 * TM2_RQ_HIGHMUL_E, its shift from the records), two channel pairs at a time: the biases, the position pairs up to a
 * multiple of 8 (two and four straight-line), eight a loop step, then (TM2_RQ_HIGHMUL_E) the four requantisations in
 * two runs of record loads. For the one or two pixels after a layer's last full block: about 1.4 cycles per
 * multiply-accumulate, where the block moved back to end at the last pixel would recompute three or two pixels. */
static void tm2_gemm_pixel(const int32_t *pw, int32_t pairs, int32_t kp, const uint32_t *col, int8_t *o, int32_t zp,
                           int32_t mode) {
  const uint32_t *const cend = col + 2 * kp;
  const int32_t rec_words = TM2_CONV_PACKED_PAIR_WORDS(kp);
  const int32_t lead = (kp >> 1) & 6; /* position pairs before a multiple of 8 */
  /* TM2_RQ_HIGHMUL_E: the layer's shift E, the third word of every record */
  const int32_t sh = mode == TM2_RQ_HIGHMUL_E ? pw[kp + 4] : 0;
  int32_t c = 0;
  for (; c + 2 <= pairs; c += 2, o += 4) { /* two channel pairs: one column load for four channels */
    const int32_t *qw = pw + rec_words;
    int32_t a, b, d, e;
    const uint32_t *px = col;
    uint32_t w0, w1, w2, w3, x0;
    __asm__ volatile("ldr %[a], [%[pw]], #4\n\t"
                     "ldr %[b], [%[pw]], #4\n\t"
                     "ldr %[d], [%[qw]], #4\n\t"
                     "ldr %[e], [%[qw]], #4\n\t"
                     : [a] "=r"(a), [b] "=r"(b), [d] "=r"(d), [e] "=r"(e), [pw] "+r"(pw), [qw] "+r"(qw)
                     :
                     : "memory");
    if (lead & 2) TM2_PIXEL_RUN(TM2_PIXEL_STEP2);
    if (lead & 4) TM2_PIXEL_RUN(TM2_PIXEL_STEP4);
    if (px != cend) TM2_PIXEL_LOOP(TM2_PIXEL_STEP8);
    if (mode == TM2_RQ_HIGHMUL_E) {
      __asm__ volatile("ldr %[w0], [%[pw]]\n\t"
                       "ldr %[w1], [%[pw], #4]\n\t"
                       "ldr %[w2], [%[pw], #12]\n\t"
                       "ldr %[w3], [%[pw], #16]\n\t" TM2_PIXEL_RQE("a", "w0", "w1") TM2_PIXEL_RQE("b", "w2", "w3")
                       "ldr %[w0], [%[qw]]\n\t"
                       "ldr %[w1], [%[qw], #4]\n\t"
                       "ldr %[w2], [%[qw], #12]\n\t"
                       "ldr %[w3], [%[qw], #16]\n\t" TM2_PIXEL_RQE("d", "w0", "w1") TM2_PIXEL_RQE("e", "w2", "w3")
                       "strb %[a], [%[o]]\n\t"
                       "strb %[b], [%[o], #1]\n\t"
                       "strb %[d], [%[o], #2]\n\t"
                       "strb %[e], [%[o], #3]\n\t"
                       : [a] "+r"(a), [b] "+r"(b), [d] "+r"(d), [e] "+r"(e), [w0] "=&r"(w0), [w1] "=&r"(w1),
                         [w2] "=&r"(w2), [w3] "=&r"(w3)
                       : [pw] "r"(pw), [qw] "r"(qw), [o] "r"(o), [sh] "r"(sh)
                       : "memory");
    } else if (zp == -128) {
      o[0] = (int8_t)tm2_rq_highmul2_low_s8(a, pw[0], pw[1], pw[2]);
      o[1] = (int8_t)tm2_rq_highmul2_low_s8(b, pw[3], pw[4], pw[5]);
      o[2] = (int8_t)tm2_rq_highmul2_low_s8(d, qw[0], qw[1], qw[2]);
      o[3] = (int8_t)tm2_rq_highmul2_low_s8(e, qw[3], qw[4], qw[5]);
    } else {
      o[0] = (int8_t)tm2_rq_highmul2_s8(a, pw[0], pw[1], pw[2]);
      o[1] = (int8_t)tm2_rq_highmul2_s8(b, pw[3], pw[4], pw[5]);
      o[2] = (int8_t)tm2_rq_highmul2_s8(d, qw[0], qw[1], qw[2]);
      o[3] = (int8_t)tm2_rq_highmul2_s8(e, qw[3], qw[4], qw[5]);
    }
    pw = qw + 6;
  }
  for (; c < pairs; ++c, o += 2) {
    int32_t a = pw[0], b = pw[1];
    const uint32_t *px = col;
    pw += 2;
    if ((kp >> 1) & 2) { /* two position pairs first, leaving a multiple of four */
      a = __smlad(px[0], (uint32_t)pw[0], a);
      b = __smlad(px[0], (uint32_t)pw[1], b);
      a = __smlad(px[4], (uint32_t)pw[2], a);
      b = __smlad(px[4], (uint32_t)pw[3], b);
      px += 8;
      pw += 4;
    }
    if (px != cend) {
      uint32_t w0, w1, w2, w3, x0, x1;
      __asm__ volatile(
          "1:\n\t"
          "ldr %[w0], [%[pw]], #4\n\t"
          "ldr %[w1], [%[pw]], #4\n\t"
          "ldr %[x0], [%[px]], #16\n\t"
          "ldr %[w2], [%[pw]], #4\n\t"
          "ldr %[w3], [%[pw]], #4\n\t"
          "ldr %[x1], [%[px]], #16\n\t"
          "smlad %[a], %[x0], %[w0], %[a]\n\t"
          "smlad %[b], %[x0], %[w1], %[b]\n\t"
          "smlad %[a], %[x1], %[w2], %[a]\n\t"
          "smlad %[b], %[x1], %[w3], %[b]\n\t"
          "ldr %[w0], [%[pw]], #4\n\t"
          "ldr %[w1], [%[pw]], #4\n\t"
          "ldr %[x0], [%[px]], #16\n\t"
          "ldr %[w2], [%[pw]], #4\n\t"
          "ldr %[w3], [%[pw]], #4\n\t"
          "ldr %[x1], [%[px]], #16\n\t"
          "smlad %[a], %[x0], %[w0], %[a]\n\t"
          "smlad %[b], %[x0], %[w1], %[b]\n\t"
          "smlad %[a], %[x1], %[w2], %[a]\n\t"
          "smlad %[b], %[x1], %[w3], %[b]\n\t"
          "cmp %[px], %[end]\n\t"
          "bne 1b\n\t"
          : [a] "+r"(a), [b] "+r"(b), [pw] "+r"(pw), [px] "+r"(px), [w0] "=&r"(w0), [w1] "=&r"(w1),
            [w2] "=&r"(w2), [w3] "=&r"(w3), [x0] "=&r"(x0), [x1] "=&r"(x1)
          : [end] "r"(cend)
          : "cc", "memory");
    }
    if (mode == TM2_RQ_HIGHMUL_E) {
      o[0] = (int8_t)tm2_rq_highmul_e_s8(a, pw[0], pw[1], pw[2]);
      o[1] = (int8_t)tm2_rq_highmul_e_s8(b, pw[3], pw[4], pw[5]);
    } else if (zp == -128) {
      o[0] = (int8_t)tm2_rq_highmul2_low_s8(a, pw[0], pw[1], pw[2]);
      o[1] = (int8_t)tm2_rq_highmul2_low_s8(b, pw[3], pw[4], pw[5]);
    } else {
      o[0] = (int8_t)tm2_rq_highmul2_s8(a, pw[0], pw[1], pw[2]);
      o[1] = (int8_t)tm2_rq_highmul2_s8(b, pw[3], pw[4], pw[5]);
    }
    pw += 6;
  }
}

#undef TM2_B3_RQ
#undef TM2_B3_STEP4
#undef TM2_B3_STEP
#endif

#if TM2_CONV_USE_DSP
/* Pointwise layers on the fast path (TM2_CONV_PATH_POINTWISE, tm2_conv_dsp.h) take their own loop: no per-call setup beyond it,
 * and the channel pairs' steps straight-line (TM2_GEMM_PAIRS_X). */
/* The full blocks of a pointwise layer for Kp = KP, a constant so that the widening's branches fold: per 4-pixel
 * block the widening, then PAIRS (a channel-pair loop below), which moves op by one pixel's out_c; then src and
 * op move to the next block (bstep, ostep: up, or down for expanding layers, tm2_conv_pw_fast). */
#define TM2_PW_BLOCKS_BY(KP, PAIRS)                           \
  for (int32_t n = pixels >> 2; n > 0; --n, src += bstep) {   \
    const int32_t *pw = packed;                               \
    tm2_widen4_body(src, (KP), (KP), off, col);               \
    PAIRS;                                                    \
    op += ostep;                                              \
  }
/* TM2_PW_BLOCKS_BY with the pair loop TM2_GEMM_PAIRS_X (steps = KP / 2 - 1 after the prologue: STEPS), RQ:
 * TM2_GEMM_RQ_LOW, TM2_GEMM_RQ_SIGNED or TM2_GEMM_RQ_E<E>. */
#define TM2_PW_BLOCKS(KP, RQ, STEPS) TM2_PW_BLOCKS_BY(KP, TM2_GEMM_PAIRS_X(RQ, STEPS))
/* TM2_PW_BLOCKS for a build-time out_c OC (stores at immediate offsets, TM2_GEMM_PAIRS_XC). */
#define TM2_PW_BLOCKS_C(KP, RQ, STEPS, OC) TM2_PW_BLOCKS_BY(KP, TM2_GEMM_PAIRS_XC(RQ, STEPS, OC))
/* TM2_PW_BLOCKS_C with four channel pairs a loop step (TM2_GEMM_PAIRS_Q; OC a multiple of 8). */
#define TM2_PW_BLOCKS_Q(KP, RQ, STEPS, OC) TM2_PW_BLOCKS_BY(KP, TM2_GEMM_PAIRS_Q(RQ, STEPS, OC))
/* TM2_PW_BLOCKS with one channel pair a loop step (TM2_GEMM_PAIRS_X1). */
#define TM2_PW_BLOCKS_1(KP, RQ, STEPS) TM2_PW_BLOCKS_BY(KP, TM2_GEMM_PAIRS_X1(RQ, STEPS))
/* Kp 8 and 16 (the small-K pointwise layers): out_c 2 Kp and 4 Kp with stores at immediate offsets. */
#define TM2_PW_BLOCKS_SMALL(KP, RQ, STEPS)                     \
  if (out_c == 2 * (KP)) {                                     \
    TM2_PW_BLOCKS_C(KP, RQ, STEPS, 2 * (KP))                   \
  } else if (out_c == 4 * (KP)) {                              \
    TM2_PW_BLOCKS_C(KP, RQ, STEPS, 4 * (KP))                   \
  } else {                                                     \
    TM2_PW_BLOCKS(KP, RQ, STEPS)                               \
  }
/* TM2_PW_BLOCKS_SMALL with output offset -128: out_c 2 Kp (vww's 8 -> 16 and 16 -> 32 layers) four channel pairs
 * a loop step. */
#define TM2_PW_BLOCKS_SMALL_LOW(KP, RQ, STEPS)                 \
  if (out_c == 2 * (KP)) {                                     \
    TM2_PW_BLOCKS_Q(KP, RQ, STEPS, 2 * (KP))                   \
  } else {                                                     \
    TM2_PW_BLOCKS_SMALL(KP, RQ, STEPS)                         \
  }
/* Kp 32: out_c 32 and 64 the same way (MobileNet's 32 -> 32 and 32 -> 64 layers). */
#define TM2_PW_BLOCKS_32(RQ)                                   \
  if (out_c == 32) {                                           \
    TM2_PW_BLOCKS_C(32, RQ, TM2_GEMM_STEP15, 32)               \
  } else if (out_c == 64) {                                    \
    TM2_PW_BLOCKS_C(32, RQ, TM2_GEMM_STEP15, 64)               \
  } else {                                                     \
    TM2_PW_BLOCKS(32, RQ, TM2_GEMM_STEP15)                     \
  }

/* The full blocks of a pointwise layer of Kp kp (a constant) with the requantisation RQ; Kp 64 and 128 one channel
 * pair a loop step (TM2_GEMM_PAIRS_X1: an entry of rqe 0 links this loop beside TM2_PW_KP_LOW's). */
#define TM2_PW_KP(RQ)                             \
  switch (kp) {                                   \
    case 8:                                       \
      TM2_PW_BLOCKS_SMALL(8, RQ, TM2_GEMM_STEP3)  \
      break;                                      \
    case 16:                                      \
      TM2_PW_BLOCKS_SMALL(16, RQ, TM2_GEMM_STEP7) \
      break;                                      \
    case 32:                                      \
      TM2_PW_BLOCKS_32(RQ)                        \
      break;                                      \
    case 64:                                      \
      TM2_PW_BLOCKS_1(64, RQ, TM2_GEMM_STEP31)    \
      break;                                      \
    default:                                      \
      TM2_PW_BLOCKS_1(128, RQ, TM2_GEMM_STEP63)   \
      break;                                      \
  }
/* TM2_PW_KP for the forms without sign correction (output offset -128: TM2_GEMM_RQ_LOW, TM2_GEMM_RQ_E<E>): Kp 8
 * and 16 with out_c 2 Kp, Kp 32 with out_c 32 (vww's 32 -> 32 layer) and Kp 64 with out_c 64 (kws' and vww's
 * 64 -> 64 layers) four channel pairs a loop step. The other out_c of Kp 64 and 128 take one pair a loop step, so
 * that the entry's code grows by about one pair's loop code only (Kp 128 with out_c 128, vww's 128 -> 128 layers,
 * in the constant-column form before this: TM2_PW_CASE_E, tm2_conv_pw_fast). */
#define TM2_PW_KP_LOW(RQ)                          \
  switch (kp) {                                    \
    case 8:                                        \
      TM2_PW_BLOCKS_SMALL_LOW(8, RQ, TM2_GEMM_STEP3)  \
      break;                                       \
    case 16:                                       \
      TM2_PW_BLOCKS_SMALL_LOW(16, RQ, TM2_GEMM_STEP7) \
      break;                                       \
    case 32:                                       \
      if (out_c == 32) {                           \
        TM2_PW_BLOCKS_Q(32, RQ, TM2_GEMM_STEP15, 32)  \
      } else {                                     \
        TM2_PW_BLOCKS_32(RQ)                       \
      }                                            \
      break;                                       \
    case 64:                                       \
      if (out_c == 64) {                           \
        TM2_PW_BLOCKS_Q(64, RQ, TM2_GEMM_STEP31, 64)  \
      } else {                                     \
        TM2_PW_BLOCKS_1(64, RQ, TM2_GEMM_STEP31)      \
      }                                            \
      break;                                       \
    case 128:                                      \
      TM2_PW_BLOCKS_1(128, RQ, TM2_GEMM_STEP63)    \
      break;                                       \
    default:                                       \
      TM2_PW_KP(RQ)                                \
      break;                                       \
  }
/* The four pixels of a block of a pointwise layer of Kp KP (32, 64 or 128; KP contiguous bytes each from src) widened
 * into the column (tm2_widen4_body's order), straight-line: two groups of four taps a run of eight loads, every
 * access at an immediate offset (the assembler symbol tm2_g: the group's byte offset in a pixel), no pointer
 * updates, no loop. */
#define TM2_PW_WIDEN_PAIR(V0, V1, DOFF)                     \
  "sxtab16 %[t0], %[o2], %[" V0 "]\n\t"                      \
  "sxtab16 %[t1], %[o2], %[" V1 "]\n\t"                      \
  "str %[t0], [%[d], #8*tm2_g+" DOFF "]\n\t"                 \
  "str %[t1], [%[d], #8*tm2_g+" DOFF "+4]\n\t"
#define TM2_PW_WIDEN_PAIR8(V0, V1, DOFF)                    \
  "sxtab16 %[t0], %[o2], %[" V0 "], ror #8\n\t"              \
  "sxtab16 %[t1], %[o2], %[" V1 "], ror #8\n\t"              \
  "str %[t0], [%[d], #8*tm2_g+" DOFF "]\n\t"                 \
  "str %[t1], [%[d], #8*tm2_g+" DOFF "+4]\n\t"
#define TM2_PW_WIDEN(KP)                                                                                   \
  do {                                                                                                     \
    uint32_t v0_, v1_, v2_, v3_, v4_, v5_, v6_, v7_, t0_, t1_;                                            \
    __asm__ volatile(".set tm2_g, 0\n\t"                                                                   \
                     ".rept " #KP "/8\n\t"                                                                 \
                     "ldr %[v0], [%[s], #tm2_g]\n\t"                                                       \
                     "ldr %[v1], [%[s], #tm2_g+" #KP "]\n\t"                                               \
                     "ldr %[v2], [%[s], #tm2_g+2*" #KP "]\n\t"                                             \
                     "ldr %[v3], [%[s], #tm2_g+3*" #KP "]\n\t"                                             \
                     "ldr %[v4], [%[s], #tm2_g+4]\n\t"                                                     \
                     "ldr %[v5], [%[s], #tm2_g+4+" #KP "]\n\t"                                             \
                     "ldr %[v6], [%[s], #tm2_g+4+2*" #KP "]\n\t"                                           \
                     "ldr %[v7], [%[s], #tm2_g+4+3*" #KP "]\n\t"                                           \
                     TM2_PW_WIDEN_PAIR("v0", "v1", "0") TM2_PW_WIDEN_PAIR("v2", "v3", "8")                  \
                     TM2_PW_WIDEN_PAIR8("v0", "v1", "16") TM2_PW_WIDEN_PAIR8("v2", "v3", "24")              \
                     TM2_PW_WIDEN_PAIR("v4", "v5", "32") TM2_PW_WIDEN_PAIR("v6", "v7", "40")                \
                     TM2_PW_WIDEN_PAIR8("v4", "v5", "48") TM2_PW_WIDEN_PAIR8("v6", "v7", "56")              \
                     ".set tm2_g, tm2_g + 8\n\t"                                                           \
                     ".endr\n\t"                                                                           \
                     : [v0] "=&r"(v0_), [v1] "=&r"(v1_), [v2] "=&r"(v2_), [v3] "=&r"(v3_), [v4] "=&r"(v4_), \
                       [v5] "=&r"(v5_), [v6] "=&r"(v6_), [v7] "=&r"(v7_), [t0] "=&r"(t0_), [t1] "=&r"(t1_)  \
                     : [s] "r"(src), [d] "r"(col), [o2] "r"(off2)                                          \
                     : "memory");                                                                          \
  } while (0)
/* TM2_PW_BLOCKS_BY with the straight-line widening (TM2_PW_WIDEN). */
#define TM2_PW_BLOCKS_BYK(KP, PAIRS)                          \
  for (int32_t n = pixels >> 2; n > 0; --n, src += bstep) {   \
    const int32_t *pw = packed;                               \
    TM2_PW_WIDEN(KP);                                         \
    PAIRS;                                                    \
    op += ostep;                                              \
  }
/* TM2_PW_BLOCKS_Q and one channel pair a loop step (stores at immediate offsets) in the constant-column form
 * (TM2_RQ_HIGHMUL_E records of shift E; N steps after the prologue), the straight-line widening. */
#define TM2_PW_BLOCKS_QK(KP, E, N, OC) TM2_PW_BLOCKS_BYK(KP, TM2_GEMM_PAIRS_QK(TM2_GEMM_XSTR(E), N, OC))
#define TM2_PW_BLOCKS_C1K(KP, E, N, OC) TM2_PW_BLOCKS_BYK(KP, TM2_GEMM_PAIRS_C1K(TM2_GEMM_XSTR(E), N, #OC))
/* TM2_PW_BLOCKS_C1K for TM2_RQ_HIGHMUL records with output offset -128 (TM2_GEMM_PAIRS_C1KL), with the widening of
 * tm2_widen4_body (the straight-line one would add its 2.5 KB of code to the entry for about 90 cycles a block). */
#define TM2_PW_BLOCKS_C1KL(KP, N, OC) TM2_PW_BLOCKS_BY(KP, TM2_GEMM_PAIRS_C1KL(N, #OC))
#if defined(__ARM_FP)
/* The FPU-register form of TM2_PW_BLOCKS_QK for Kp 16 and 32 (vww's 16 -> 32, 32 -> 32 and 32 -> 64 layers; the
 * form of tm2_conv_first_fast's TM2_FIRST_S8_ROW): per 4-pixel block one asm statement widens pixels 0 and 1's
 * position pairs 1 .. Kp/2 - 1 into the single registers s2 .. s(Kp - 1) (pair j of pixel s in s(2 j + s)), their
 * pair 0 and pixels 2 and 3 into the column buffer (pair 0 of pixel s at 4 s; pair j of pixels 2 and 3 at 8 j + 8
 * and 8 j + 12), then runs the channel pairs four a loop step. A step of the product loads the position pair's two
 * weight words and pixels 2 and 3's column words in one run and fetches pixels 0 and 1's by one VMOV of two
 * registers (two cycles): 15 cycles for 16 multiply-accumulates, where TM2_GEMM_KSTEP takes 16 (its six loads need
 * two runs: fourteen registers hold the eight sums, the two pointers and at most four loaded words). The first
 * position pair loads all four pixels' words with the biases and weights in one run (a0, a1 are free until its
 * SMLADs). The output pointer and the end of the records wait in s0 and s1 (VMOV: one cycle); the input pointer
 * uses pw's register and the input offset pair x1's during the widening. The whole block is widened before its
 * first store, so that expanding layers may run in place from the last block down (tm2_conv_pw_fast). */
/* Pixels 0 .. 3's words at byte O of their pixels (src in pw, Kp KP: decimal strings) in one run of eight loads: a0
 * .. a3 at O, b0 .. b3 at O + 4. */
#define TM2_PF_LOAD8(KP, O)                             \
  "ldr %[a0], [%[pw], #" O "]\n\t"                      \
  "ldr %[a1], [%[pw], #" O "+" KP "]\n\t"               \
  "ldr %[a2], [%[pw], #" O "+2*" KP "]\n\t"             \
  "ldr %[a3], [%[pw], #" O "+3*" KP "]\n\t"             \
  "ldr %[b0], [%[pw], #" O "+4]\n\t"                    \
  "ldr %[b1], [%[pw], #" O "+4+" KP "]\n\t"             \
  "ldr %[b2], [%[pw], #" O "+4+2*" KP "]\n\t"           \
  "ldr %[b3], [%[pw], #" O "+4+3*" KP "]\n\t"
/* Pixels 0 and 1's widened words of a position pair (w0, w1) into single registers SA, SB, or (pair 0) the column. */
#define TM2_PF_S(SA, SB) "vmov " SA ", %[w0]\n\t" "vmov " SB ", %[w1]\n\t"
#define TM2_PF_M0 "str %[w0], [%[px]]\n\t" "str %[w1], [%[px], #4]\n\t"
/* The four pixels' words V0 .. V3 (V: "a" or "b") widened by SXTAB16 (input offset pair in x1): bytes 0 and 2 are
 * position pair P (a decimal string), bytes 1 and 3 pair P + 1; pixels 0 and 1 by PUT0 and PUT1, pixels 2 and 3
 * into the column. */
#define TM2_PF_GROUP(V, P, PUT0, PUT1)                  \
  "sxtab16 %[w0], %[x1], %[" V "0]\n\t"                 \
  "sxtab16 %[w1], %[x1], %[" V "1]\n\t" PUT0            \
  "sxtab16 %[w0], %[x1], %[" V "0], ror #8\n\t"         \
  "sxtab16 %[w1], %[x1], %[" V "1], ror #8\n\t" PUT1    \
  "sxtab16 %[w0], %[x1], %[" V "2]\n\t"                 \
  "str %[w0], [%[px], #(8*" P "+8)]\n\t"                \
  "sxtab16 %[w1], %[x1], %[" V "3]\n\t"                 \
  "str %[w1], [%[px], #(8*" P "+12)]\n\t"               \
  "sxtab16 %[w0], %[x1], %[" V "2], ror #8\n\t"         \
  "str %[w0], [%[px], #(8*" P "+16)]\n\t"               \
  "sxtab16 %[w1], %[x1], %[" V "3], ror #8\n\t"         \
  "str %[w1], [%[px], #(8*" P "+20)]\n\t"
/* Bytes 0 .. 7 (position pairs 0 .. 3) and 8 .. 15 (pairs 4 .. 7) of the four pixels, Kp KP. */
#define TM2_PF_WIDEN16(KP)                                                                                   \
  TM2_PF_LOAD8(KP, "0") TM2_PF_GROUP("a", "0", TM2_PF_M0, TM2_PF_S("s2", "s3"))                              \
  TM2_PF_GROUP("b", "2", TM2_PF_S("s4", "s5"), TM2_PF_S("s6", "s7"))                                         \
  TM2_PF_LOAD8(KP, "8") TM2_PF_GROUP("a", "4", TM2_PF_S("s8", "s9"), TM2_PF_S("s10", "s11"))                 \
  TM2_PF_GROUP("b", "6", TM2_PF_S("s12", "s13"), TM2_PF_S("s14", "s15"))
/* Kp 32: the above and bytes 16 .. 31 (pairs 8 .. 15). */
#define TM2_PF_WIDEN32                                                                                       \
  TM2_PF_WIDEN16("32")                                                                                       \
  TM2_PF_LOAD8("32", "16") TM2_PF_GROUP("a", "8", TM2_PF_S("s16", "s17"), TM2_PF_S("s18", "s19"))            \
  TM2_PF_GROUP("b", "10", TM2_PF_S("s20", "s21"), TM2_PF_S("s22", "s23"))                                    \
  TM2_PF_LOAD8("32", "24") TM2_PF_GROUP("a", "12", TM2_PF_S("s24", "s25"), TM2_PF_S("s26", "s27"))           \
  TM2_PF_GROUP("b", "14", TM2_PF_S("s28", "s29"), TM2_PF_S("s30", "s31"))
/* One position pair of a channel pair: pixels 2 and 3 from the column at px + O (a string: the byte offset of pixel
 * 2's word), pixels 0 and 1 from SA, SB. Also the first layer's step (TM2_FS_STEP), whose column slots are 16 bytes. */
#define TM2_PF_STEP_AT(O, SA, SB)                       \
  "ldr %[w0], [%[pw]], #4\n\t"                          \
  "ldr %[w1], [%[pw]], #4\n\t"                          \
  "ldr %[x0], [%[px], #(" O "+8)]\n\t"                  \
  "ldr %[x1], [%[px], #(" O "+12)]\n\t"                 \
  "smlad %[a2], %[x0], %[w0], %[a2]\n\t"                \
  "smlad %[b2], %[x0], %[w1], %[b2]\n\t"                \
  "smlad %[a3], %[x1], %[w0], %[a3]\n\t"                \
  "smlad %[b3], %[x1], %[w1], %[b3]\n\t"                \
  "vmov %[x0], %[x1], " SA ", " SB "\n\t"               \
  "smlad %[a0], %[x0], %[w0], %[a0]\n\t"                \
  "smlad %[b0], %[x0], %[w1], %[b0]\n\t"                \
  "smlad %[a1], %[x1], %[w0], %[a1]\n\t"                \
  "smlad %[b1], %[x1], %[w1], %[b1]\n\t"
/* Position pair J (a decimal string) of a channel pair: pixels 2 and 3 from the column, pixels 0 and 1 from SA, SB. */
#define TM2_PF_STEP(J, SA, SB) TM2_PF_STEP_AT("8*" J, SA, SB)
#define TM2_PF_STEPS16                                                                                       \
  TM2_PF_STEP("1", "s2", "s3") TM2_PF_STEP("2", "s4", "s5") TM2_PF_STEP("3", "s6", "s7")                     \
  TM2_PF_STEP("4", "s8", "s9") TM2_PF_STEP("5", "s10", "s11") TM2_PF_STEP("6", "s12", "s13")                 \
  TM2_PF_STEP("7", "s14", "s15")
#define TM2_PF_STEPS32                                                                                       \
  TM2_PF_STEPS16 TM2_PF_STEP("8", "s16", "s17") TM2_PF_STEP("9", "s18", "s19")                               \
  TM2_PF_STEP("10", "s20", "s21") TM2_PF_STEP("11", "s22", "s23") TM2_PF_STEP("12", "s24", "s25")            \
  TM2_PF_STEP("13", "s26", "s27") TM2_PF_STEP("14", "s28", "s29") TM2_PF_STEP("15", "s30", "s31")
/* The eight sums of one channel pair: position pair 0 from the biases (the four pixels' words in the run of loads),
 * then the other STEPS. */
#define TM2_PF_SUMS(STEPS)                                                                                 \
  "ldr %[a2], [%[pw]], #4\n\t"                                                                             \
  "ldr %[b2], [%[pw]], #4\n\t"                                                                             \
  "ldr %[w0], [%[pw]], #4\n\t"                                                                             \
  "ldr %[w1], [%[pw]], #4\n\t"                                                                             \
  "ldr %[a0], [%[px]]\n\t"                                                                                 \
  "ldr %[a1], [%[px], #4]\n\t"                                                                             \
  "ldr %[x0], [%[px], #8]\n\t"                                                                             \
  "ldr %[x1], [%[px], #12]\n\t"                                                                            \
  "smlad %[b0], %[a0], %[w1], %[b2]\n\t"                                                                   \
  "smlad %[a0], %[a0], %[w0], %[a2]\n\t"                                                                   \
  "smlad %[b1], %[a1], %[w1], %[b2]\n\t"                                                                   \
  "smlad %[a1], %[a1], %[w0], %[a2]\n\t"                                                                   \
  "smlad %[a3], %[x1], %[w0], %[a2]\n\t"                                                                   \
  "smlad %[b3], %[x1], %[w1], %[b2]\n\t"                                                                   \
  "smlad %[a2], %[x0], %[w0], %[a2]\n\t"                                                                   \
  "smlad %[b2], %[x0], %[w1], %[b2]\n\t" STEPS
/* One channel pair (K: "0" .. "3", OC the out_c string): TM2_PF_SUMS, the eight requantisations (both records in one
 * run, the output pointer from s0 before the last; ENDLOAD: "" or the end of the records from s1 into w1) and the
 * stores at 2 K (+ 1) + s OC. */
#define TM2_PF_PAIR_R(E, STEPS, ENDLOAD)                                                                \
  TM2_PF_SUMS(STEPS)                                                                                    \
  "ldr %[w0], [%[pw]], #4\n\t"                                                                          \
  "ldr %[w1], [%[pw]], #8\n\t"                                                                          \
  "ldr %[x0], [%[pw]], #4\n\t"                                                                          \
  "ldr %[x1], [%[pw]], #8\n\t" TM2_GEMM_RQK("a0", "w0", "w1", E) TM2_GEMM_RQK("a1", "w0", "w1", E)      \
  TM2_GEMM_RQK("a2", "w0", "w1", E) TM2_GEMM_RQK("a3", "w0", "w1", E) TM2_GEMM_RQK("b0", "x0", "x1", E) \
  TM2_GEMM_RQK("b1", "x0", "x1", E) TM2_GEMM_RQK("b2", "x0", "x1", E) "vmov %[w0], s0\n\t" ENDLOAD      \
  TM2_GEMM_RQK("b3", "x0", "x1", E)
#define TM2_PF_PAIR(E, STEPS, OC, K, ENDLOAD) TM2_PF_PAIR_R(E, STEPS, ENDLOAD) TM2_GEMM_KSTORE_Q(OC, K)
/* Four channel pairs a loop step (the output pointer 8 bytes on), or two (4 bytes on). */
#define TM2_PF_PAIRS4(E, STEPS, OC)                                                                          \
  TM2_PF_PAIR(E, STEPS, OC, "0", "") TM2_PF_PAIR(E, STEPS, OC, "1", "") TM2_PF_PAIR(E, STEPS, OC, "2", "")   \
  TM2_PF_PAIR(E, STEPS, OC, "3", "vmov %[w1], s1\n\t") "add %[w0], %[w0], #8\n\t"
#define TM2_PF_PAIRS2(E, STEPS, OC) \
  TM2_PF_PAIR(E, STEPS, OC, "0", "") TM2_PF_PAIR(E, STEPS, OC, "1", "vmov %[w1], s1\n\t") "add %[w0], %[w0], #4\n\t"
/* One channel pair a loop step (the first store moves the output pointer on by the pair's two channels, as
 * TM2_GEMM_PAIRS_C1K). */
#define TM2_PF_PAIRS1(E, STEPS, OC)             \
  TM2_PF_PAIR_R(E, STEPS, "vmov %[w1], s1\n\t") \
  TM2_GEMM_STORE_A4("w0", OC)                   \
  TM2_GEMM_STORE_B4("w0", OC)
/* One channel pair a loop step for TM2_RQ_HIGHMUL records with output offset -128 (as TM2_GEMM_PAIRS_C1KL: each
 * channel's record m, hz, e in a run of three loads, its four requantisations and stores), the output pointer in x1
 * (TM2_PW_BLOCKS_FR's OPR "x1"). */
#define TM2_PF_PAIRS1L(STEPS, OC)                                                                    \
  TM2_PF_SUMS(STEPS) TM2_GEMM_REC3 "vmov %[x1], s0\n\t" TM2_GEMM_RQ_LOW("a0") TM2_GEMM_RQ_LOW("a1")  \
  TM2_GEMM_RQ_LOW("a2") TM2_GEMM_RQ_LOW("a3")                                                        \
  TM2_GEMM_STORE_A4("x1", OC) TM2_GEMM_REC3 TM2_GEMM_RQ_LOW("b0") TM2_GEMM_RQ_LOW("b1")              \
  TM2_GEMM_RQ_LOW("b2") TM2_GEMM_RQ_LOW("b3")                                                        \
  "vmov %[w1], s1\n\t"                                                                               \
  TM2_GEMM_STORE_B4("x1", OC)
/* Every full block of a pointwise layer in this form (WIDEN: TM2_PF_WIDEN16("16"), TM2_PF_WIDEN32, _64 or _128;
 * PAIRS: TM2_PF_PAIRS4, _2 or _1 with shift E, or TM2_PF_PAIRS1L, the STEPS of the same Kp and out_c OC, strings, OC a
 * multiple of 8, 4 or 2; OPR: the register ("w0" or "x1") of the output pointer after PAIRS; then the single
 * registers used, the clobbers). */
#define TM2_PW_BLOCKS_FR(WIDEN, PAIRS, OPR, ...)                                                              \
  for (int32_t n = pixels >> 2; n > 0; --n, src += bstep) {                                                  \
    const int32_t *pwr;                                                                                      \
    __asm__ volatile(                                                                                        \
        "ldr %[pw], %[srcm]\n\t"                                                                             \
        "ldr %[x1], %[o2m]\n\t" WIDEN                                                                        \
        "ldr %[w0], %[om]\n\t"                                                                               \
        "ldr %[w1], %[wend]\n\t"                                                                             \
        "ldr %[pw], %[pkm]\n\t"                                                                              \
        "vmov s0, %[w0]\n\t"                                                                                 \
        "vmov s1, %[w1]\n\t"                                                                                 \
        ".p2align 2\n\t"                                                                                     \
        "1:\n\t" PAIRS                                                                                      \
        "cmp %[pw], %[w1]\n\t"                                                                               \
        "vmov s0, %[" OPR "]\n\t"                                                                            \
        "bne 1b\n\t"                                                                                         \
        "str %[" OPR "], %[om]\n\t"                                                                          \
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1),    \
          [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),     \
          [pw] "=&r"(pwr), [om] "+m"(op)                                                                     \
        : [px] "r"(col), [srcm] "m"(src), [o2m] "m"(off2), [wend] "m"(wend), [pkm] "m"(packed)               \
        : "cc", "memory", __VA_ARGS__);                                                                      \
    op += ostep;                                                                                             \
  }
#define TM2_PW_BLOCKS_F(WIDEN, PAIRS, ...) TM2_PW_BLOCKS_FR(WIDEN, PAIRS, "w0", __VA_ARGS__)
#define TM2_PF_S16 "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15"
#define TM2_PF_S32                                                                                           \
  TM2_PF_S16, "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", \
      "s30", "s31"
#define TM2_PW_BLOCKS_F16(E, OC) \
  TM2_PW_BLOCKS_F(TM2_PF_WIDEN16("16"), TM2_PF_PAIRS4(TM2_GEMM_XSTR(E), TM2_PF_STEPS16, #OC), TM2_PF_S16)
#define TM2_PW_BLOCKS_F32(E, OC) \
  TM2_PW_BLOCKS_F(TM2_PF_WIDEN32, TM2_PF_PAIRS4(TM2_GEMM_XSTR(E), TM2_PF_STEPS32, #OC), TM2_PF_S32)
/* Kp 64 (kws' and vww's 64 -> 64 layers): two pixels' 31 position pairs past pair 0 would need 62 single registers,
 * so pixels 0 and 1's pairs 1 .. 15 take s2 .. s31 as in Kp 32 (15 cycles a step) and pairs 16 .. 31 of all four
 * pixels go to the column after pixels 2 and 3's pairs 1 .. 15 (pair j of pixel s at 16 j - 120 + 4 s: bytes 136 ..
 * 391), run by TM2_GEMM_KSTEP (16 cycles a step). The four pixels' words V0 .. V3 widened into the column: position
 * pair P (a decimal string) at 16 P - 120 + 4 s, pair P + 1 16 bytes on. */
#define TM2_PF_GROUPC(V, P)                             \
  "sxtab16 %[w0], %[x1], %[" V "0]\n\t"                 \
  "sxtab16 %[w1], %[x1], %[" V "1]\n\t"                 \
  "str %[w0], [%[px], #(16*" P "-120)]\n\t"            \
  "str %[w1], [%[px], #(16*" P "-116)]\n\t"            \
  "sxtab16 %[w0], %[x1], %[" V "2]\n\t"                 \
  "sxtab16 %[w1], %[x1], %[" V "3]\n\t"                 \
  "str %[w0], [%[px], #(16*" P "-112)]\n\t"            \
  "str %[w1], [%[px], #(16*" P "-108)]\n\t"            \
  "sxtab16 %[w0], %[x1], %[" V "0], ror #8\n\t"         \
  "sxtab16 %[w1], %[x1], %[" V "1], ror #8\n\t"         \
  "str %[w0], [%[px], #(16*" P "-104)]\n\t"            \
  "str %[w1], [%[px], #(16*" P "-100)]\n\t"            \
  "sxtab16 %[w0], %[x1], %[" V "2], ror #8\n\t"         \
  "sxtab16 %[w1], %[x1], %[" V "3], ror #8\n\t"         \
  "str %[w0], [%[px], #(16*" P "-96)]\n\t"             \
  "str %[w1], [%[px], #(16*" P "-92)]\n\t"
#define TM2_PF_WIDEN64                                                                                       \
  TM2_PF_WIDEN16("64")                                                                                       \
  TM2_PF_LOAD8("64", "16") TM2_PF_GROUP("a", "8", TM2_PF_S("s16", "s17"), TM2_PF_S("s18", "s19"))            \
  TM2_PF_GROUP("b", "10", TM2_PF_S("s20", "s21"), TM2_PF_S("s22", "s23"))                                    \
  TM2_PF_LOAD8("64", "24") TM2_PF_GROUP("a", "12", TM2_PF_S("s24", "s25"), TM2_PF_S("s26", "s27"))           \
  TM2_PF_GROUP("b", "14", TM2_PF_S("s28", "s29"), TM2_PF_S("s30", "s31"))                                    \
  TM2_PF_LOAD8("64", "32") TM2_PF_GROUPC("a", "16") TM2_PF_GROUPC("b", "18")                                 \
  TM2_PF_LOAD8("64", "40") TM2_PF_GROUPC("a", "20") TM2_PF_GROUPC("b", "22")                                 \
  TM2_PF_LOAD8("64", "48") TM2_PF_GROUPC("a", "24") TM2_PF_GROUPC("b", "26")                                 \
  TM2_PF_LOAD8("64", "56") TM2_PF_GROUPC("a", "28") TM2_PF_GROUPC("b", "30")
#define TM2_PF_STEPS64 TM2_PF_STEPS32 ".set tm2_k, 136\n\t.rept 16\n\t" TM2_GEMM_KSTEP ".endr\n\t"
#define TM2_PW_BLOCKS_F64(E, OC) \
  TM2_PW_BLOCKS_F(TM2_PF_WIDEN64, TM2_PF_PAIRS4(TM2_GEMM_XSTR(E), TM2_PF_STEPS64, #OC), TM2_PF_S32)
/* out_c 128 (vww's 6x6 64 -> 128 layer; the entry _pw64o128_e<E> only) two channel pairs a loop step: half the
 * loop's code for 16 more loop ends a block (about 7 cycles each). */
#define TM2_PW_BLOCKS_F64H(E, OC) \
  TM2_PW_BLOCKS_F(TM2_PF_WIDEN64, TM2_PF_PAIRS2(TM2_GEMM_XSTR(E), TM2_PF_STEPS64, #OC), TM2_PF_S32)
/* Kp 128 (vww's 6x6 128 -> 128 layers): as Kp 64, pixels 0 and 1's pairs 1 .. 15 in s2 .. s31 and pairs 16 .. 63
 * of all four pixels in the column at 16 j - 120 + 4 s (bytes 136 .. 903 of the 1024 of TM2_CONV_PACKED_SCRATCH),
 * one channel pair a loop step (TM2_PF_PAIRS1 or, output offset -128, TM2_PF_PAIRS1L) as the constant-column form
 * it replaces: 15 cycles a step for pairs 1 .. 15, 16 for the others. */
#define TM2_PF_LOADC128(O, PA, PB) TM2_PF_LOAD8("128", O) TM2_PF_GROUPC("a", PA) TM2_PF_GROUPC("b", PB)
#define TM2_PF_WIDEN128                                                                                 \
  TM2_PF_WIDEN16("128")                                                                                 \
  TM2_PF_LOAD8("128", "16") TM2_PF_GROUP("a", "8", TM2_PF_S("s16", "s17"), TM2_PF_S("s18", "s19"))      \
  TM2_PF_GROUP("b", "10", TM2_PF_S("s20", "s21"), TM2_PF_S("s22", "s23"))                               \
  TM2_PF_LOAD8("128", "24") TM2_PF_GROUP("a", "12", TM2_PF_S("s24", "s25"), TM2_PF_S("s26", "s27"))     \
  TM2_PF_GROUP("b", "14", TM2_PF_S("s28", "s29"), TM2_PF_S("s30", "s31"))                               \
  TM2_PF_LOADC128("32", "16", "18") TM2_PF_LOADC128("40", "20", "22") TM2_PF_LOADC128("48", "24", "26") \
  TM2_PF_LOADC128("56", "28", "30") TM2_PF_LOADC128("64", "32", "34") TM2_PF_LOADC128("72", "36", "38") \
  TM2_PF_LOADC128("80", "40", "42") TM2_PF_LOADC128("88", "44", "46") TM2_PF_LOADC128("96", "48", "50") \
  TM2_PF_LOADC128("104", "52", "54") TM2_PF_LOADC128("112", "56", "58") TM2_PF_LOADC128("120", "60", "62")
/* TM2_PF_WIDEN128 with pairs 16 .. 63 in a loop of twelve steps of eight bytes (the column pointer in x0, src in
 * pw moved on) for the output-offset -128 entry, whose constant-column form had the looped widening of
 * tm2_widen4_body: about 1.7 KB less code for about 150 cycles a block (vww: +331 cycles, -2 KB of flash). The four
 * pixels' words V0 .. V3 widened to the column at x0 + D (pair P at x0, P + 1 16 bytes on). */
#define TM2_PF_GROUPX(V, D)                     \
  "sxtab16 %[w0], %[x1], %[" V "0]\n\t"         \
  "sxtab16 %[w1], %[x1], %[" V "1]\n\t"         \
  "str %[w0], [%[x0], #(" D ")]\n\t"            \
  "str %[w1], [%[x0], #(" D "+4)]\n\t"          \
  "sxtab16 %[w0], %[x1], %[" V "2]\n\t"         \
  "sxtab16 %[w1], %[x1], %[" V "3]\n\t"         \
  "str %[w0], [%[x0], #(" D "+8)]\n\t"          \
  "str %[w1], [%[x0], #(" D "+12)]\n\t"         \
  "sxtab16 %[w0], %[x1], %[" V "0], ror #8\n\t" \
  "sxtab16 %[w1], %[x1], %[" V "1], ror #8\n\t" \
  "str %[w0], [%[x0], #(" D "+16)]\n\t"         \
  "str %[w1], [%[x0], #(" D "+20)]\n\t"         \
  "sxtab16 %[w0], %[x1], %[" V "2], ror #8\n\t" \
  "sxtab16 %[w1], %[x1], %[" V "3], ror #8\n\t" \
  "str %[w0], [%[x0], #(" D "+24)]\n\t"         \
  "str %[w1], [%[x0], #(" D "+28)]\n\t"
#define TM2_PF_WIDEN128L                                                                            \
  TM2_PF_WIDEN16("128")                                                                             \
  TM2_PF_LOAD8("128", "16") TM2_PF_GROUP("a", "8", TM2_PF_S("s16", "s17"), TM2_PF_S("s18", "s19"))  \
  TM2_PF_GROUP("b", "10", TM2_PF_S("s20", "s21"), TM2_PF_S("s22", "s23"))                           \
  TM2_PF_LOAD8("128", "24") TM2_PF_GROUP("a", "12", TM2_PF_S("s24", "s25"), TM2_PF_S("s26", "s27")) \
  TM2_PF_GROUP("b", "14", TM2_PF_S("s28", "s29"), TM2_PF_S("s30", "s31"))                           \
  "add %[x0], %[px], #136\n\t"                                                                      \
  "2:\n\t" TM2_PF_LOAD8("128", "32")                                                                \
  "add %[pw], %[pw], #8\n\t" TM2_PF_GROUPX("a", "0") TM2_PF_GROUPX("b", "32")                       \
  "add %[x0], %[x0], #64\n\t"                                                                       \
  "sub %[w0], %[x0], %[px]\n\t"                                                                     \
  "cmp %[w0], #904\n\t"                                                                             \
  "bne 2b\n\t"
#define TM2_PF_STEPS128 TM2_PF_STEPS32 ".set tm2_k, 136\n\t.rept 48\n\t" TM2_GEMM_KSTEP ".endr\n\t"
#define TM2_PW_BLOCKS_F128(E, OC) \
  TM2_PW_BLOCKS_F(TM2_PF_WIDEN128, TM2_PF_PAIRS1(TM2_GEMM_XSTR(E), TM2_PF_STEPS128, #OC), TM2_PF_S32)
#define TM2_PW_BLOCKS_F128L(OC) \
  TM2_PW_BLOCKS_FR(TM2_PF_WIDEN128L, TM2_PF_PAIRS1L(TM2_PF_STEPS128, #OC), "x1", TM2_PF_S32)
#else
#define TM2_PW_BLOCKS_F128(E, OC) TM2_PW_BLOCKS_C1K(128, E, 63, OC)
#define TM2_PW_BLOCKS_F128L(OC) TM2_PW_BLOCKS_C1KL(128, 63, OC)
#define TM2_PW_BLOCKS_F16(E, OC) TM2_PW_BLOCKS_QK(16, E, 7, OC)
#define TM2_PW_BLOCKS_F32(E, OC) TM2_PW_BLOCKS_QK(32, E, 15, OC)
#define TM2_PW_BLOCKS_F64(E, OC) TM2_PW_BLOCKS_QK(64, E, 31, OC)
/* Kp 64 with out_c 128 as TM2_PW_KP_LOW runs it (one channel pair a loop step). */
#define TM2_PW_BLOCKS_F64H(E, OC) TM2_PW_BLOCKS_1(64, TM2_GEMM_RQ_E##E, TM2_GEMM_STEP31)
#endif
/* Kp 8 with out_c 16 and TM2_RQ_HIGHMUL_E records of shift E (a string; vww's 48x48 8 -> 16 layer): pixel pairs
 * instead of 4-pixel blocks, both pixels widened in registers (x0 .. x3 pixel A's position pairs 0 .. 3, x4 .. x7
 * pixel B's; no column buffer) and each weight word loaded once for the two pixels, the requantisation of both sums
 * and their stores at immediate offsets (pixel B out_c = 16 bytes after pixel A). The layer expands (16 > 8
 * channels), so it runs from the last pixel down (see tm2_conv_pw_fast): an odd last pixel first (tm2_gemm_pixel on
 * the widened last four pixels), then the pixel pairs from the last. TM2_PW8_START: that last pixel and the loop's
 * pointers (s8 at the last pair's input bytes, s8_end where it stops, op at the last pair's output). */
#define TM2_PW8_START                                                                                           \
  if (pixels & 1) {                                                                                             \
    tm2_widen4_body(input + (size_t)(pixels - 4) * 8, 8, 8, off, col);                                          \
    tm2_gemm_pixel(packed, 8, 8, col + 3, output + (size_t)(pixels - 1) * 16, zp, TM2_RQ_HIGHMUL_E);            \
  }                                                                                                             \
  const int8_t *s8 = input + (size_t)((pixels >> 1) - 1) * 16;                                                  \
  const uintptr_t s8_end = (uintptr_t)input - 16;                                                               \
  const uint32_t o2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);                                       \
  const int32_t *pw = packed;                                                                                   \
  int8_t *op = output + (size_t)((pixels >> 1) - 1) * 32;
#if defined(__ARM_FP)
/* With an FPU: the sixteen channels' records (m, hz') wait in s0 .. s31 for the whole layer (TM2_PW8_RECS: channel
 * 2 P + c of pair P in s(4 P + 2 c), s(4 P + 2 c + 1); one VMOV of two registers each, two cycles), and the biases
 * and weight words (the first ten words of each pair's 16: biases, then per position pair the two channels' words)
 * are copied to the stack (328 bytes below sp for the loop; pair P at 40 P, then the input pointer at 320 and its
 * end at 324), so that sp addresses them at immediate offsets and the weight pointer's register is free: a channel
 * loads its bias and four weight words in one run of five loads (six cycles, where two runs took seven). The copied
 * biases include the input offset's products with the channel's weights (off (w 2j + w 2j+1), one SMLAD with the
 * offset pair per weight word; the sums are exact modulo 2^32, so the channel's sum is unchanged), so the pixels are
 * widened without the offset (SXTB16). Pixel B's position pair 3 is kept as its difference to pixel A's (x7 = xB3 -
 * xA3 by SSUB16: both within -128 .. 127, so each lane is exact): the first SMLAD gives a = bias + xA3 W3 and the
 * second b = a + (xB3 - xA3) W3 = bias + xB3 W3, W3 loaded into b's register, which is free until then. 22 cycles a
 * channel of two outputs. The loop's flags come from the CMP of the input pointer against its end before the
 * channels (SMLAD, SSAT and SSUB16 leave N, Z, C and V alone). */
#define TM2_PW8_RECS1(P, S0, S1, S2, S3)                \
  "vldr " S0 ", [%[u], #(64*" P "+40)]\n\t"            \
  "vldr " S1 ", [%[u], #(64*" P "+44)]\n\t"            \
  "vldr " S2 ", [%[u], #(64*" P "+52)]\n\t"            \
  "vldr " S3 ", [%[u], #(64*" P "+56)]\n\t"
#define TM2_PW8_RECS                                                                                            \
  TM2_PW8_RECS1("0", "s0", "s1", "s2", "s3") TM2_PW8_RECS1("1", "s4", "s5", "s6", "s7")                         \
  TM2_PW8_RECS1("2", "s8", "s9", "s10", "s11") TM2_PW8_RECS1("3", "s12", "s13", "s14", "s15")                   \
  TM2_PW8_RECS1("4", "s16", "s17", "s18", "s19") TM2_PW8_RECS1("5", "s20", "s21", "s22", "s23")                 \
  TM2_PW8_RECS1("6", "s24", "s25", "s26", "s27") TM2_PW8_RECS1("7", "s28", "s29", "s30", "s31")
/* One channel with shift K: its bias at stack offset B (a string), its outputs at S and S + 16 of op, its record in
 * the single registers SMH ("SM, SM + 1"). */
#define TM2_PW8_FCH(K, B, S, SMH)                       \
  "ldr %[w], [sp, #(" B "+8)]\n\t"                      \
  "ldr %[t], [sp, #(" B "+16)]\n\t"                     \
  "ldr %[u], [sp, #(" B "+24)]\n\t"                     \
  "ldr %[b], [sp, #(" B "+32)]\n\t"                     \
  "ldr %[a], [sp, #(" B ")]\n\t"                        \
  "smlad %[a], %[x3], %[b], %[a]\n\t"                   \
  "smlad %[b], %[x7], %[b], %[a]\n\t"                   \
  "smlad %[a], %[x0], %[w], %[a]\n\t"                   \
  "smlad %[b], %[x4], %[w], %[b]\n\t"                   \
  "smlad %[a], %[x1], %[t], %[a]\n\t"                   \
  "smlad %[b], %[x5], %[t], %[b]\n\t"                   \
  "smlad %[a], %[x2], %[u], %[a]\n\t"                   \
  "smlad %[b], %[x6], %[u], %[b]\n\t"                   \
  "vmov %[w], %[t], " SMH "\n\t"                        \
  "smmla %[a], %[a], %[w], %[t]\n\t"                    \
  "ssat %[a], #8, %[a], asr #" K "\n\t"                 \
  "smmla %[b], %[b], %[w], %[t]\n\t"                    \
  "ssat %[b], #8, %[b], asr #" K "\n\t"                 \
  "strb %[a], [%[op], #" S "]\n\t"                      \
  "strb %[b], [%[op], #(" S "+16)]\n\t"
/* Channel pair P (a string, 0 .. 7) with shift E. */
#define TM2_PW8_FCHPAIR(E, P, SMH0, SMH1)                    \
  TM2_PW8_FCH(E, "(40*" P ")", "(2*" P ")", SMH0)            \
  TM2_PW8_FCH(E, "(40*" P "+4)", "(2*" P "+1)", SMH1)
#define TM2_PW8_PAIRS(E)                                                                                        \
  do {                                                                                                          \
    TM2_PW8_START                                                                                               \
    uint32_t x0, x1, x2, x3, x4, x5, x6, x7, b;                                                                 \
    uint32_t a = o2, w = (uint32_t)s8, t = s8_end, u = (uint32_t)pw;                                            \
    __asm__ volatile(                                                                                           \
        TM2_PW8_RECS "sub sp, sp, #328\n\t"                                                                     \
        "str %[w], [sp, #320]\n\t"                                                                              \
        "str %[t], [sp, #324]\n\t"                                                                              \
        "mov %[t], sp\n\t"                                                                                      \
        "add %[w], %[u], #512\n\t"                                                                              \
        "2:\n\t"                                                                                                \
        "ldr %[x0], [%[u], #8]\n\t"                                                                             \
        "ldr %[x1], [%[u], #12]\n\t"                                                                            \
        "ldr %[x2], [%[u], #16]\n\t"                                                                            \
        "ldr %[x3], [%[u], #20]\n\t"                                                                            \
        "ldr %[x4], [%[u], #24]\n\t"                                                                            \
        "ldr %[x5], [%[u], #28]\n\t"                                                                            \
        "ldr %[x6], [%[u], #32]\n\t"                                                                            \
        "ldr %[x7], [%[u], #36]\n\t"                                                                            \
        "ldr %[b], [%[u]]\n\t"                                                                                  \
        "smlad %[b], %[x0], %[a], %[b]\n\t"                                                                     \
        "smlad %[b], %[x2], %[a], %[b]\n\t"                                                                     \
        "smlad %[b], %[x4], %[a], %[b]\n\t"                                                                     \
        "smlad %[b], %[x6], %[a], %[b]\n\t"                                                                     \
        "str %[b], [%[t]]\n\t"                                                                                  \
        "ldr %[b], [%[u], #4]\n\t"                                                                              \
        "smlad %[b], %[x1], %[a], %[b]\n\t"                                                                     \
        "smlad %[b], %[x3], %[a], %[b]\n\t"                                                                     \
        "smlad %[b], %[x5], %[a], %[b]\n\t"                                                                     \
        "smlad %[b], %[x7], %[a], %[b]\n\t"                                                                     \
        "str %[b], [%[t], #4]\n\t"                                                                              \
        "str %[x0], [%[t], #8]\n\t"                                                                             \
        "str %[x1], [%[t], #12]\n\t"                                                                            \
        "str %[x2], [%[t], #16]\n\t"                                                                            \
        "str %[x3], [%[t], #20]\n\t"                                                                            \
        "str %[x4], [%[t], #24]\n\t"                                                                            \
        "str %[x5], [%[t], #28]\n\t"                                                                            \
        "str %[x6], [%[t], #32]\n\t"                                                                            \
        "str %[x7], [%[t], #36]\n\t"                                                                            \
        "add %[u], %[u], #64\n\t"                                                                               \
        "add %[t], %[t], #40\n\t"                                                                               \
        "cmp %[u], %[w]\n\t"                                                                                    \
        "bne 2b\n\t"                                                                                            \
        "1:\n\t"                                                                                                \
        "ldr %[u], [sp, #320]\n\t"                                                                              \
        "ldr %[w], [sp, #324]\n\t"                                                                              \
        "ldr %[x2], [%[u], #4]\n\t"                                                                             \
        "ldr %[x4], [%[u], #8]\n\t"                                                                             \
        "ldr %[x6], [%[u], #12]\n\t"                                                                            \
        "ldr %[x0], [%[u]], #-16\n\t"                                                                           \
        "str %[u], [sp, #320]\n\t"                                                                              \
        "cmp %[u], %[w]\n\t"                                                                                    \
        "sxtb16 %[x1], %[x0], ror #8\n\t"                                                                       \
        "sxtb16 %[x0], %[x0]\n\t"                                                                               \
        "sxtb16 %[x3], %[x2], ror #8\n\t"                                                                       \
        "sxtb16 %[x2], %[x2]\n\t"                                                                               \
        "sxtb16 %[x5], %[x4], ror #8\n\t"                                                                       \
        "sxtb16 %[x4], %[x4]\n\t"                                                                               \
        "sxtb16 %[x7], %[x6], ror #8\n\t"                                                                       \
        "sxtb16 %[x6], %[x6]\n\t"                                                                               \
        "ssub16 %[x7], %[x7], %[x3]\n\t"                                                                        \
        TM2_PW8_FCHPAIR(E, "0", "s0, s1", "s2, s3") TM2_PW8_FCHPAIR(E, "1", "s4, s5", "s6, s7")                 \
        TM2_PW8_FCHPAIR(E, "2", "s8, s9", "s10, s11") TM2_PW8_FCHPAIR(E, "3", "s12, s13", "s14, s15")           \
        TM2_PW8_FCHPAIR(E, "4", "s16, s17", "s18, s19") TM2_PW8_FCHPAIR(E, "5", "s20, s21", "s22, s23")         \
        TM2_PW8_FCHPAIR(E, "6", "s24, s25", "s26, s27") TM2_PW8_FCHPAIR(E, "7", "s28, s29", "s30, s31")         \
        "sub %[op], %[op], #32\n\t"                                                                             \
        "bne 1b\n\t"                                                                                            \
        "add sp, sp, #328\n\t"                                                                                  \
        : [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [x4] "=&r"(x4), [x5] "=&r"(x5),       \
          [x6] "=&r"(x6), [x7] "=&r"(x7), [b] "=&r"(b), [a] "+r"(a), [w] "+r"(w), [t] "+r"(t), [u] "+r"(u),     \
          [op] "+r"(op)                                                                                         \
        :                                                                                                       \
        : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",      \
          "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26",     \
          "s27", "s28", "s29", "s30", "s31");                                                                   \
  } while (0)
#else
/* Without an FPU: per channel its bias and two weight words in one run of loads, four SMLADs, two more weight
 * words, four SMLADs, the record (m, hz') from offsets M and H and the requantisation of both sums (about 24 cycles
 * a channel of two outputs). The pair record pointer moves on by its 16 words with the first channel's bias load
 * (post-indexed), so the other words are read at negative offsets; the channel pairs are unrolled (8), pw moves
 * back by 512 bytes after them. Loop state (the input pointer, its end, the input offset pair) in memory operands:
 * all fourteen registers are in use. */
#define TM2_PW8_CH(K, B, W0, W1, W2, W3, M, H, S0, S1)                       \
  "ldr %[w], [%[pw], #" W0 "]\n\t"                                         \
  "ldr %[t], [%[pw], #" W1 "]\n\t"                                         \
  "ldr %[a], [%[pw]" B "\n\t"                                              \
  "smlad %[b], %[x4], %[w], %[a]\n\t"                                      \
  "smlad %[a], %[x0], %[w], %[a]\n\t"                                      \
  "smlad %[a], %[x1], %[t], %[a]\n\t"                                      \
  "smlad %[b], %[x5], %[t], %[b]\n\t"                                      \
  "ldr %[w], [%[pw], #" W2 "]\n\t"                                         \
  "ldr %[t], [%[pw], #" W3 "]\n\t"                                         \
  "smlad %[a], %[x2], %[w], %[a]\n\t"                                      \
  "smlad %[b], %[x6], %[w], %[b]\n\t"                                      \
  "smlad %[a], %[x3], %[t], %[a]\n\t"                                      \
  "smlad %[b], %[x7], %[t], %[b]\n\t"                                      \
  "ldr %[w], [%[pw], #" M "]\n\t"                                          \
  "ldr %[t], [%[pw], #" H "]\n\t"                                          \
  "smmla %[a], %[a], %[w], %[t]\n\t"                                       \
  "ssat %[a], #8, %[a], asr #" K "\n\t"                                    \
  "smmla %[b], %[b], %[w], %[t]\n\t"                                       \
  "ssat %[b], #8, %[b], asr #" K "\n\t"                                    \
  "strb %[a], [%[op], #" S0 "]\n\t"                                        \
  "strb %[b], [%[op], #" S1 "]\n\t"
/* Channel pair P (a string, 0 .. 7) of TM2_PW8_PAIRS with shift E: channel 2 P's bias loaded post-indexed (pw
 * then 64 bytes on), the rest of the pair's record (tm2_conv_dsp.h: biases, then per position pair the two
 * channels' weight words, then (m, hz', E) per channel) at offsets -60 .. -8. */
#define TM2_PW8_CHPAIR(E, P)                                                                                    \
  TM2_PW8_CH(E, "], #64", "8", "16", "-40", "-32", "-24", "-20", "(2*" P ")", "(2*" P "+16)")               \
  TM2_PW8_CH(E, ", #-60]", "-52", "-44", "-36", "-28", "-12", "-8", "(2*" P "+1)", "(2*" P "+17)")
#define TM2_PW8_PAIRS(E)                                                                                        \
  do {                                                                                                          \
    TM2_PW8_START                                                                                               \
    uint32_t x0, x1, x2, x3, x4, x5, x6, x7, a, b, w, t;                                                       \
    __asm__ volatile(                                                                                           \
        "ldr %[t], %[sm]\n\t"                                                                                   \
        "1:\n\t"                                                                                                \
        "ldr %[a], %[o2m]\n\t"                                                                                  \
        "ldr %[x0], [%[t]]\n\t"                                                                                 \
        "ldr %[x2], [%[t], #4]\n\t"                                                                             \
        "ldr %[x4], [%[t], #8]\n\t"                                                                             \
        "ldr %[x6], [%[t], #12]\n\t"                                                                            \
        "sub %[t], %[t], #16\n\t"                                                                               \
        "str %[t], %[sm]\n\t"                                                                                   \
        "sxtab16 %[x1], %[a], %[x0], ror #8\n\t"                                                                \
        "sxtab16 %[x0], %[a], %[x0]\n\t"                                                                        \
        "sxtab16 %[x3], %[a], %[x2], ror #8\n\t"                                                                \
        "sxtab16 %[x2], %[a], %[x2]\n\t"                                                                        \
        "sxtab16 %[x5], %[a], %[x4], ror #8\n\t"                                                                \
        "sxtab16 %[x4], %[a], %[x4]\n\t"                                                                        \
        "sxtab16 %[x7], %[a], %[x6], ror #8\n\t"                                                                \
        "sxtab16 %[x6], %[a], %[x6]\n\t"                                                                        \
        TM2_PW8_CHPAIR(E, "0") TM2_PW8_CHPAIR(E, "1") TM2_PW8_CHPAIR(E, "2") TM2_PW8_CHPAIR(E, "3")             \
        TM2_PW8_CHPAIR(E, "4") TM2_PW8_CHPAIR(E, "5") TM2_PW8_CHPAIR(E, "6") TM2_PW8_CHPAIR(E, "7")             \
        "sub %[pw], %[pw], #512\n\t"                                                                            \
        "sub %[op], %[op], #32\n\t"                                                                             \
        "ldr %[t], %[sm]\n\t"                                                                                   \
        "ldr %[w], %[em]\n\t"                                                                                   \
        "cmp %[t], %[w]\n\t"                                                                                    \
        "bne 1b\n\t"                                                                                            \
        : [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [x4] "=&r"(x4), [x5] "=&r"(x5),       \
          [x6] "=&r"(x6), [x7] "=&r"(x7), [a] "=&r"(a), [b] "=&r"(b), [w] "=&r"(w), [t] "=&r"(t),               \
          [pw] "+r"(pw), [op] "+r"(op), [sm] "+m"(s8)                                                           \
        : [em] "m"(s8_end), [o2m] "m"(o2)                                                                       \
        : "cc", "memory");                                                                                      \
  } while (0)
#endif

/* The TM2_RQ_HIGHMUL_E case of shift E for Kp 8 with out_c 16: TM2_PW8_PAIRS. */
#define TM2_PW8_CASE_E(E) \
  case E:                 \
    TM2_PW8_PAIRS(#E);    \
    break;
/* The TM2_RQ_HIGHMUL_E case of shift E of the 4-pixel blocks: Kp 16 with out_c 32, Kp 32 with out_c 32 and 64, Kp 64
 * with out_c 64 four channel pairs a loop step, Kp 64 with the build-time out_c 128 (oc) two and Kp 128 with out_c
 * 128 one pair a loop step, in the FPU-register or constant-column form; everything else as TM2_PW_KP_LOW. */
#define TM2_PW_CASE_E(E)                                                                                 \
  case E:                                                                                                \
    if (kp == 8 && out_c == 16) {                                                                        \
      /* not here: TM2_PW8_CASE_E (so that the compiler drops TM2_PW_KP_LOW's loops of this shape) */        \
    } else if (kp == 16 && out_c == 32) {                                                                \
      TM2_PW_BLOCKS_F16(E, 32)                                                                           \
    } else if (kp == 32 && out_c == 32) {                                                                \
      TM2_PW_BLOCKS_F32(E, 32)                                                                           \
    } else if (kp == 32 && out_c == 64) {                                                                \
      TM2_PW_BLOCKS_F32(E, 64)                                                                           \
    } else if (kp == 64 && out_c == 64) {                                                                \
      TM2_PW_BLOCKS_F64(E, 64)                                                                           \
    } else if (kp == 64 && oc == 128) {                                                                  \
      TM2_PW_BLOCKS_F64H(E, 128)                                                                         \
    } else if (kp == 128 && out_c == 128) {                                                              \
      TM2_PW_BLOCKS_F128(E, 128)                                                                         \
    } else {                                                                                             \
      TM2_PW_KP_LOW(TM2_GEMM_RQ_E##E)                                                                    \
    }                                                                                                    \
    break;

/* Always inlined into one entry point per Kp and shift (TM2_PW_ENTRY below) with kp and rqe constants: each entry
 * keeps only its own block loops (TM2_RQ_HIGHMUL_E records of shift rqe; rqe 0: TM2_RQ_HIGHMUL records, both
 * output offset forms), so a model links the loops of the Kp values and shifts it has and no others. oc: 0 (out_c
 * from p), or the layer's out_c as a constant (128: the entry _pw64o128_e<E>, whose loop the others do not link). */
__attribute__((always_inline)) static inline void tm2_conv_pw_fast(const tm2_conv_packed_params *p,
                                                                   const int8_t *input, const int32_t *packed,
                                                                   void *scratch, int8_t *output, const int32_t kp,
                                                                   const int32_t rqe, const int32_t oc) {
  const int32_t out_c = oc ? oc : p->out_c;
  const int32_t zp = p->output_offset;
  const int32_t off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  const int32_t full_pairs = out_c >> 1;
  uint32_t *col = (uint32_t *)scratch;
  const int32_t *wend = packed + (size_t)full_pairs * TM2_CONV_PACKED_PAIR_WORDS(kp);
  if (rqe != 0 && kp == 8 && out_c == 16) {
    switch (rqe) {
      TM2_CONV_RQ_SHIFTS(TM2_PW8_CASE_E)
      default:
        break;
    }
    return;
  }
  /* Expanding layers (out_c > Kp = in_c) run from the last pixel down, the others from the first up: pixel i's
   * output then overwrites only input pixels read already (at or after i when expanding, i out_c >= i Kp; at or
   * before i otherwise), so that either may run in place over the whole tensor (tinym2net/ops/inplace.py). The one to
   * three pixels after the last block go one by one (widened into one slot, tm2_widen_tap, then tm2_gemm_pixel):
   * first, from the last down, or last. The blocks' pointers: src and op at the first block to run, then per block
   * bstep input bytes and ostep output bytes on (the pair loops move op by one pixel's out_c). */
  const int rev = out_c > kp;
  const int32_t first = rev ? (pixels >> 2) - 1 : 0;
  int32_t bstep = 4 * kp;
  /* opaque: -4 Kp needs no literal-pool word (the .rept loops of this function hide their size from the compiler,
   * which may then place the pool out of a load's reach) */
  __asm__("" : "+r"(bstep));
  if (rev) bstep = -bstep;
  const int32_t ostep = rev ? -5 * out_c : 3 * out_c;
  const int8_t *src = input + (size_t)first * 4 * kp;
  int8_t *op = output + (size_t)first * 4 * out_c;
  const int32_t rq_mode = rqe ? TM2_RQ_HIGHMUL_E : TM2_RQ_HIGHMUL;
  for (int32_t i = pixels - 1; rev && i >= (pixels & ~3); --i) {
    tm2_widen_tap(input + (size_t)i * kp, kp >> 2, off, col);
    tm2_gemm_pixel(packed, full_pairs, kp, col, output + (size_t)i * out_c, zp, rq_mode);
  }
  /* out_c is a memory operand of the pair loops' asm, so that to the compiler the calls above may have changed it:
   * restated, a build-time out_c keeps only its own loop below (else the path of layers with such pixels kept every
   * loop of Kp: 7 KB of vww's 32 -> 64 entry) */
  if (oc != 0 && out_c != oc) __builtin_unreachable();
  int32_t a0, a1, a2, a3, b0, b1, b2, b3;
  uint32_t w0, w1, x0, x1, px;
  switch (rqe) {
    TM2_CONV_RQ_SHIFTS(TM2_PW_CASE_E)
    default:
      if (zp == -128 && kp == 128 && out_c == 128) {
        TM2_PW_BLOCKS_F128L(128)
      } else if (zp == -128) {
        TM2_PW_KP_LOW(TM2_GEMM_RQ_LOW)
      } else {
        TM2_PW_KP(TM2_GEMM_RQ_SIGNED)
      }
      break;
  }
  for (int32_t i = pixels & ~3; !rev && i < pixels; ++i) {
    tm2_widen_tap(input + (size_t)i * kp, kp >> 2, off, col);
    tm2_gemm_pixel(packed, full_pairs, kp, col, output + (size_t)i * out_c, zp, rq_mode);
  }
}
#undef TM2_PW8_CASE_E
#undef TM2_PW_CASE_E
#undef TM2_PW_BLOCKS_QK
#undef TM2_PW_BLOCKS_F16
#undef TM2_PW_BLOCKS_F32
#undef TM2_PW_BLOCKS_F64
#undef TM2_PW_BLOCKS_F64H
#undef TM2_PW_BLOCKS_F128
#undef TM2_PW_BLOCKS_F128L
#if defined(__ARM_FP)
#undef TM2_PW_BLOCKS_F
#undef TM2_PW_BLOCKS_FR
#undef TM2_PF_STEPS128
#undef TM2_PF_WIDEN128
#undef TM2_PF_WIDEN128L
#undef TM2_PF_GROUPX
#undef TM2_PF_LOADC128
#undef TM2_PF_PAIRS1L
#undef TM2_PF_PAIRS1
#undef TM2_PF_PAIR_R
#undef TM2_PF_SUMS
#undef TM2_PF_PAIRS4
#undef TM2_PF_PAIRS2
#undef TM2_PF_STEPS64
#undef TM2_PF_WIDEN64
#undef TM2_PF_GROUPC
#undef TM2_PF_S16
#undef TM2_PF_S32
#undef TM2_PF_PAIR
#undef TM2_PF_STEPS32
#undef TM2_PF_STEPS16
#undef TM2_PF_STEP
#undef TM2_PF_WIDEN32
#undef TM2_PF_WIDEN16
#undef TM2_PF_GROUP
#undef TM2_PF_M0
#undef TM2_PF_S
#undef TM2_PF_LOAD8
#endif
#undef TM2_PW_BLOCKS_C1K
#undef TM2_PW_BLOCKS_C1KL
#undef TM2_PW_BLOCKS_BYK
#undef TM2_PW_WIDEN
#undef TM2_PW_WIDEN_PAIR
#undef TM2_PW_WIDEN_PAIR8
#undef TM2_PW_KP
#undef TM2_PW_BLOCKS
#undef TM2_PW_BLOCKS_BY

/* Pointwise calls of fewer than four pixels (a band's last pixels): each pixel widened into all four column slots
 * (pixel stride 0), then its channel pairs one pixel at a time (tm2_gemm_pixel), so that the pointwise entries
 * link no general loop; from the last pixel down for expanding layers (as tm2_conv_pw_fast). */
__attribute__((noinline)) static void tm2_conv_pw_few(const tm2_conv_packed_params *p, const int8_t *input,
                                                      const int32_t *packed, void *scratch, int8_t *output) {
  const int32_t kp = p->depth_padded, out_c = p->out_c;
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  uint32_t *col = (uint32_t *)scratch;
  for (int32_t k = 0; k < pixels; ++k) {
    const int32_t i = out_c > kp ? pixels - 1 - k : k;
    tm2_widen4(input + (size_t)i * kp, 0, kp, p->input_offset, col);
    tm2_gemm_pixel(packed, out_c >> 1, kp, col, output + (size_t)i * out_c, p->output_offset, p->rq_mode);
  }
}

#if defined(__ARM_FP)
/* The FPU-register form of the 3-pixel blocks (TM2_PW3F_BLOCK, one asm statement a block): the block's three pixels
 * widened straight from the input (no fourth pixel) into the column (pair j of pixel p at 12 j + 4 p), then ten of
 * its position pairs, five runs of two, copied into the single registers s2 .. s31 (VLDM); the end of the records in
 * s0. A step of the product over two such pairs takes their column words from the FPU registers (VMOV: one cycle,
 * into one core register just before its two SMLADs), so that the weight words of both pairs load in one run: 23
 * cycles for 24 multiply-accumulates (4 loads in 5 cycles, 6 VMOV, 12 SMLAD), where two column steps take 24 (their
 * five loaded words fill the registers left besides the six sums and three pointers). */
/* Pixels 0 .. 2's words at byte O of their pixels (src in pw, Kp KP: decimal strings) in one run of six loads: a0 ..
 * a2 at O, b0 .. b2 at O + 4. */
#define TM2_P3F_LOAD6(KP, O)                  \
  "ldr %[a0], [%[pw], #" O "]\n\t"            \
  "ldr %[a1], [%[pw], #" O "+" KP "]\n\t"     \
  "ldr %[a2], [%[pw], #" O "+2*" KP "]\n\t"   \
  "ldr %[b0], [%[pw], #" O "+4]\n\t"          \
  "ldr %[b1], [%[pw], #" O "+4+" KP "]\n\t"   \
  "ldr %[b2], [%[pw], #" O "+4+2*" KP "]\n\t"
/* The position pair of word V of the three pixels (V: "a" or "b"; ROR "": bytes 0 and 2, ", ror #8": bytes 1 and 3)
 * widened by SXTAB16 (input offset pair in x1) into the column at byte O of x2. */
#define TM2_P3F_PC(V, ROR, O)                                        \
  "sxtab16 %[w0], %[x1], %[" V "0]" ROR "\n\t"                       \
  "str %[w0], [%[x2], #" O "]\n\t"                                   \
  "sxtab16 %[w0], %[x1], %[" V "1]" ROR "\n\t"                       \
  "str %[w0], [%[x2], #(" O "+4)]\n\t"                               \
  "sxtab16 %[w0], %[x1], %[" V "2]" ROR "\n\t"                       \
  "str %[w0], [%[x2], #(" O "+8)]\n\t"
/* Words a and b (four position pairs) into the column at bytes O .. O + 44 of x2. */
#define TM2_P3F_PC4(O)                                                                                       \
  TM2_P3F_PC("a", "", O) TM2_P3F_PC("a", ", ror #8", "(" O "+12)") TM2_P3F_PC("b", "", "(" O "+24)")          \
  TM2_P3F_PC("b", ", ror #8", "(" O "+36)")
/* The three pixels' Kp bytes, sixteen a loop step in two runs of six loads (the input pointer in pw, its end for the
 * first pixel in x0, the column pointer in x2, the input offset pair in x1). */
#define TM2_P3F_WIDEN(KP)                                                                                    \
  "add %[x0], %[pw], #" KP "\n\t"                                                                            \
  "mov %[x2], %[px]\n\t"                                                                                     \
  "2:\n\t" TM2_P3F_LOAD6(KP, "0") TM2_P3F_PC4("0") TM2_P3F_LOAD6(KP, "8") TM2_P3F_PC4("48")                   \
  "add %[x2], %[x2], #96\n\t"                                                                                \
  "add %[pw], %[pw], #16\n\t"                                                                                \
  "cmp %[pw], %[x0]\n\t"                                                                                     \
  "bne 2b\n\t"
/* Position pairs Q and Q + 1 (an expression string) of the column into S (six single registers, "s2-s7"). */
#define TM2_P3F_VLD(Q, S)                     \
  "add %[x2], %[px], #12*(" Q ")\n\t"         \
  "vldm %[x2], {" S "}\n\t"
/* A position pair from single registers S0 .. S2 (pixels 0 .. 2), its weight words in W0, W1 (strings). */
#define TM2_P3F_FSTEP(W0, W1, S0, S1, S2)               \
  "vmov %[x2], " S0 "\n\t"                              \
  "smlad %[a0], %[x2], %[" W0 "], %[a0]\n\t"            \
  "smlad %[b0], %[x2], %[" W1 "], %[b0]\n\t"            \
  "vmov %[x2], " S1 "\n\t"                              \
  "smlad %[a1], %[x2], %[" W0 "], %[a1]\n\t"            \
  "smlad %[b1], %[x2], %[" W1 "], %[b1]\n\t"            \
  "vmov %[x2], " S2 "\n\t"                              \
  "smlad %[a2], %[x2], %[" W0 "], %[a2]\n\t"            \
  "smlad %[b2], %[x2], %[" W1 "], %[b2]\n\t"
/* Two position pairs from single registers (S0 .. S5): both pairs' weight words in one run of four loads. */
#define TM2_P3F_FSTEP2(S0, S1, S2, S3, S4, S5)                                                                \
  "ldr.w %[w0], [%[pw]], #4\n\t"                                                                             \
  "ldr.w %[w1], [%[pw]], #4\n\t"                                                                             \
  "ldr.w %[x0], [%[pw]], #4\n\t"                                                                             \
  "ldr.w %[x1], [%[pw]], #4\n\t" TM2_P3F_FSTEP("w0", "w1", S0, S1, S2) TM2_P3F_FSTEP("x0", "x1", S3, S4, S5)  \
  ".set tm2_k, tm2_k + 24\n\t"
/* N column steps (TM2_GEMM_K3STEP with the column's 12 bytes a position pair; N a string). */
#define TM2_P3F_CSTEPS(N)                      \
  ".rept " N "\n\t"                            \
  "ldr.w %[w0], [%[pw]], #4\n\t"               \
  "ldr.w %[w1], [%[pw]], #4\n\t"               \
  "ldr.w %[x0], [%[px], #tm2_k]\n\t"           \
  "ldr.w %[x1], [%[px], #tm2_k+4]\n\t"         \
  "ldr.w %[x2], [%[px], #tm2_k+8]\n\t"         \
  "smlad %[a0], %[x0], %[w0], %[a0]\n\t"       \
  "smlad %[b0], %[x0], %[w1], %[b0]\n\t"       \
  "smlad %[a1], %[x1], %[w0], %[a1]\n\t"       \
  "smlad %[b1], %[x1], %[w1], %[b1]\n\t"       \
  "smlad %[a2], %[x2], %[w0], %[a2]\n\t"       \
  "smlad %[b2], %[x2], %[w1], %[b2]\n\t"       \
  ".set tm2_k, tm2_k + 12\n\t"                 \
  ".endr\n\t"
/* The FPU-register pairs of TM2_P3F_STEPS (N0 .. N4 as there) into s2 .. s31. */
#define TM2_P3F_VLDS(N0, N1, N2, N3, N4)                                                                      \
  TM2_P3F_VLD("1+" N0, "s2-s7") TM2_P3F_VLD("3+" N0 "+" N1, "s8-s13")                                         \
  TM2_P3F_VLD("5+" N0 "+" N1 "+" N2, "s14-s19") TM2_P3F_VLD("7+" N0 "+" N1 "+" N2 "+" N3, "s20-s25")          \
  TM2_P3F_VLD("9+" N0 "+" N1 "+" N2 "+" N3 "+" N4, "s26-s31")
/* Position pairs 1 .. Kp/2 - 1 of a channel pair in the order of its weight words: runs of N0 .. N4 column steps
 * (strings), each followed by two pairs from single registers (s2 .. s7 after the first run, ... s26 .. s31 after
 * the last), then the column steps left (N5). */
#define TM2_P3F_STEPS(N0, N1, N2, N3, N4, N5)                                                                  \
  ".set tm2_k, 12\n\t" TM2_P3F_CSTEPS(N0) TM2_P3F_FSTEP2("s2", "s3", "s4", "s5", "s6", "s7")                  \
  TM2_P3F_CSTEPS(N1) TM2_P3F_FSTEP2("s8", "s9", "s10", "s11", "s12", "s13") TM2_P3F_CSTEPS(N2)                \
  TM2_P3F_FSTEP2("s14", "s15", "s16", "s17", "s18", "s19") TM2_P3F_CSTEPS(N3)                                 \
  TM2_P3F_FSTEP2("s20", "s21", "s22", "s23", "s24", "s25") TM2_P3F_CSTEPS(N4)                                 \
  TM2_P3F_FSTEP2("s26", "s27", "s28", "s29", "s30", "s31") TM2_P3F_CSTEPS(N5)
/* TM2_GEMM_K3PROLOGUE (position pair 0 from the biases) in 32-bit encodings. */
#define TM2_P3F_PROLOGUE                       \
  "ldr.w %[a2], [%[pw]], #4\n\t"               \
  "ldr.w %[b2], [%[pw]], #4\n\t"               \
  "ldr.w %[w0], [%[pw]], #4\n\t"               \
  "ldr.w %[w1], [%[pw]], #4\n\t"               \
  "ldr.w %[x0], [%[px]]\n\t"                   \
  "ldr.w %[x1], [%[px], #4]\n\t"               \
  "ldr.w %[x2], [%[px], #8]\n\t"               \
  "smlad %[a0], %[x0], %[w0], %[a2]\n\t"       \
  "smlad %[b0], %[x0], %[w1], %[b2]\n\t"       \
  "smlad %[a1], %[x1], %[w0], %[a2]\n\t"       \
  "smlad %[b1], %[x1], %[w1], %[b2]\n\t"       \
  "smlad %[a2], %[x2], %[w0], %[a2]\n\t"       \
  "smlad %[b2], %[x2], %[w1], %[b2]\n\t"
#define TM2_P3F_SREGS                                                                                        \
  "s0", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", \
      "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"
/* One block: widen its three pixels (src in pw; TM2_P3F_WIDEN), copy the FPU-register pairs, then every channel pair
 * one a loop step as TM2_GEMM_PAIRS_3K: pair 0 from the biases, the other pairs by TM2_P3F_STEPS(N0 .. N5), both
 * records in one run, the stores at immediate offsets from op (strings: shift E, Kp KP). The loop starts on a 1 KB
 * boundary (a branch skips the padding), every instruction of it 32 bits wide: the counting emulator splits its
 * blocks at 1 KB code pages and prices a block's first instruction cold, so N0 .. N5 are chosen to put every page
 * boundary (each 256 instructions) on no load that follows a load. */
#define TM2_PW3F_BLOCK(E, KP, N0, N1, N2, N3, N4, N5)                                                         \
  __asm__ volatile(                                                                                          \
      "ldr %[x1], %[o2m]\n\t" TM2_P3F_WIDEN(KP) TM2_P3F_VLDS(N0, N1, N2, N3, N4)                              \
      "ldr %[x2], %[wendm]\n\t"                                                                              \
      "ldr %[pw], %[pkm]\n\t"                                                                                \
      "vmov s0, %[x2]\n\t"                                                                                   \
      "b 1f\n\t"                                                                                             \
      ".p2align 10\n\t"                                                                                      \
      "1:\n\t" TM2_P3F_PROLOGUE TM2_P3F_STEPS(N0, N1, N2, N3, N4, N5)                                         \
      "ldr.w %[w0], [%[pw]], #4\n\t"                                                                         \
      "ldr.w %[w1], [%[pw]], #8\n\t"                                                                         \
      "ldr.w %[x0], [%[pw]], #4\n\t"                                                                         \
      "ldr.w %[x1], [%[pw]], #8\n\t" TM2_GEMM_RQK("a0", "w0", "w1", E) TM2_GEMM_RQK("a1", "w0", "w1", E)      \
      TM2_GEMM_RQK("a2", "w0", "w1", E) TM2_GEMM_RQK("b0", "x0", "x1", E) TM2_GEMM_RQK("b1", "x0", "x1", E)   \
      TM2_GEMM_RQK("b2", "x0", "x1", E) "vmov %[x2], s0\n\t"                                                 \
      "strb %[a0], [%[op]], #2\n\t"                                                                          \
      "strb %[a1], [%[op], #(256-2)]\n\t"                                                                    \
      "strb %[a2], [%[op], #(2*256-2)]\n\t"                                                                  \
      "strb %[b0], [%[op], #-1]\n\t"                                                                         \
      "strb %[b1], [%[op], #(256-1)]\n\t"                                                                    \
      "strb %[b2], [%[op], #(2*256-1)]\n\t"                                                                  \
      "cmp.w %[pw], %[x2]\n\t"                                                                               \
      "bne 1b\n\t"                                                                                           \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2),      \
        [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [pw] "+&r"(pr),      \
        [op] "+&r"(op)                                                                                       \
      : [px] "r"(col), [o2m] "m"(off2), [wendm] "m"(wend), [pkm] "m"(packed)                                 \
      : "cc", "memory", TM2_P3F_SREGS)
#endif

/* Kp kp (128 or 256, a constant) with out_c 256 and TM2_RQ_HIGHMUL_E records of shift rqe in blocks of three pixels
 * (TM2_GEMM_PAIRS_3K; the entries tm2_conv2d_s8_packed_pw<Kp>x3_e<E>, which the generated code names for pointwise
 * layers whose pixel count is a multiple of three and not of four: tinym2net/ops/packing.py conv_packed_entry; vww's
 * 3 x 3 128 -> 256 and 256 -> 256 layers, where 4-pixel blocks leave a pixel to tm2_gemm_pixel). From the last pixel
 * down (as tm2_conv_pw_fast for expanding layers; the same order serves 256 -> 256): the one or two pixels after
 * the last block of three first, one by one, then the blocks from the last. With an FPU each block widens its own
 * three pixels (TM2_PW3F_BLOCK; 6 Kp bytes of the column scratch). Without one, block j's pixels 3 j .. 3 j + 2 are
 * widened with the pixel before them into slots 0 .. 3 and read from slot 1 (block 0 with pixel 3 after them, read
 * from slot 0, or, in a call of three pixels, one by one), so that no read passes the tensor's last pixel. */
__attribute__((always_inline)) static inline void tm2_conv_pw3(const tm2_conv_packed_params *p, const int8_t *input,
                                                               const int32_t *packed, void *scratch, int8_t *output,
                                                               const int32_t kp, const int32_t rqe) {
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  const int32_t off = p->input_offset;
  uint32_t *col = (uint32_t *)scratch;
  const int32_t *wend = packed + (size_t)128 * TM2_CONV_PACKED_PAIR_WORDS(kp);
  int32_t three = 3;
  __asm__("" : "+r"(three)); /* opaque: a division, no literal-pool word (see tm2_conv_pw_fast's bstep) */
  const int32_t blocks = pixels / three;
  for (int32_t i = pixels - 1; i >= 3 * blocks; --i) {
    tm2_widen_tap(input + (size_t)i * kp, kp >> 2, off, col);
    tm2_gemm_pixel(packed, 128, kp, col, output + (size_t)i * 256, p->output_offset, TM2_RQ_HIGHMUL_E);
  }
#if defined(__ARM_FP)
  /* TM2_PW3F_BLOCK's runs of column steps (Kp 128: 53 in all, Kp 256: 117): with these the page boundaries in the
   * loop fall on SMLAD, VMOV or a run's first load */
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  for (int32_t j = blocks - 1; j >= 0; --j) {
    const int8_t *pr = input + (size_t)j * 3 * kp;
    int8_t *op = output + (size_t)j * 3 * 256;
    int32_t a0, a1, a2, b0, b1, b2;
    uint32_t w0, w1, x0, x1, x2;
#define TM2_PW3F_CASE_E(E)                                        \
  case E:                                                         \
    if (kp == 128) {                                              \
      TM2_PW3F_BLOCK(#E, "128", "21", "22", "10", "0", "0", "0"); \
    } else {                                                      \
      TM2_PW3F_BLOCK(#E, "256", "21", "22", "67", "7", "0", "0"); \
    }                                                             \
    break;
    switch (rqe) {
      TM2_CONV_RQ_SHIFTS(TM2_PW3F_CASE_E)
      default:
        break;
    }
#undef TM2_PW3F_CASE_E
  }
#else
  for (int32_t j = blocks - 1; j >= 0; --j) {
    const int32_t *pw = packed;
    const uint32_t *px = col + (j ? 1 : 0);
    int8_t *op = output + (size_t)j * 3 * 256;
    int32_t a0, a1, a2, b0, b1, b2;
    uint32_t w0, w1, x0, x1, x2;
    if (j || pixels >= 4) {
      tm2_widen4_body(input + (size_t)(j ? 3 * j - 1 : 0) * kp, kp, kp, off, col);
    } else {
      for (int32_t s = 0; s < 3; ++s) tm2_widen_tap(input + (size_t)s * kp, kp >> 2, off, col + s);
    }
#define TM2_PW3_CASE_E(E)                                     \
  case E:                                                     \
    if (kp == 128) {                                          \
      TM2_GEMM_PAIRS_3K(#E, "63", "256");                     \
    } else {                                                  \
      TM2_GEMM_PAIRS_3K(#E, "127", "256");                    \
    }                                                         \
    break;
    switch (rqe) {
      TM2_CONV_RQ_SHIFTS(TM2_PW3_CASE_E)
      default:
        break;
    }
#undef TM2_PW3_CASE_E
  }
#endif
}
#if defined(__ARM_FP)
#undef TM2_PW3F_BLOCK
#undef TM2_P3F_SREGS
#undef TM2_P3F_PROLOGUE
#undef TM2_P3F_STEPS
#undef TM2_P3F_VLDS
#undef TM2_P3F_CSTEPS
#undef TM2_P3F_FSTEP2
#undef TM2_P3F_FSTEP
#undef TM2_P3F_VLD
#undef TM2_P3F_WIDEN
#undef TM2_P3F_PC4
#undef TM2_P3F_PC
#undef TM2_P3F_LOAD6
#endif
#undef TM2_PW_BLOCKS_C
#undef TM2_PW_BLOCKS_1
#undef TM2_PW_BLOCKS_Q
#undef TM2_PW_BLOCKS_SMALL
#undef TM2_PW_BLOCKS_SMALL_LOW
#undef TM2_PW_BLOCKS_32

/* First layers of 3x3 filters of three channels (Kp 28, row layout) on the fast path, output rows a multiple of
 * four pixels wide: blocks of four pixels of one output row; the blocks lo .. hi - 1 of a row inside the input
 * (the same for every row) widened straight from the input (TM2_WIDEN_3X9_4C for stride_w 1 and 2), at strides 1
 * and 2 the block after them whose last pixel has its third column the first past the right edge (SAME padding of
 * one column) as three such pixels and tm2_widen_rows_3x6, the others pixel by pixel (tm2_first_edge_block); the
 * pair loop with its 13 steps straight-line (TM2_GEMM_PAIRS_XC for out_c
 * 8 and 16, four pairs a loop step with output offset -128, TM2_GEMM_PAIRS_Q; TM2_GEMM_PAIRS_X otherwise). */
/* One pixel of a 3x3 filter of three channels (stride and padding in iy0, ix0) that reaches past the input's
 * edges, into one slot of the column buffer: filter rows outside the input read a row of the zero point (which
 * widens to 0); rows whose columns reach past the input are copied into a local row of the zero point first. */
__attribute__((noinline)) static void tm2_first_edge_pixel(const int8_t *in_b, int32_t in_h, int32_t in_w,
                                                           int32_t iy0, int32_t ix0, int32_t off, uint32_t off2,
                                                           uint32_t *col) {
  const uint32_t zp4 = (uint32_t)(uint8_t)(-off) * 0x01010101u;
  uint32_t buf[3][3];
  const int8_t *r[3];
  const int32_t t0 = 3 * tm2_max_i32(0, -ix0), t1 = 3 * tm2_min_i32(3, in_w - ix0); /* bytes inside */
  for (int32_t fy = 0; fy < 3; ++fy) {
    const int32_t iy = iy0 + fy;
    int8_t *d = (int8_t *)buf[fy];
    r[fy] = d;
    if (iy < 0 || iy >= in_h || t0 >= t1) {
      buf[fy][0] = buf[fy][1] = buf[fy][2] = zp4;
      continue;
    }
    const int8_t *src = in_b + (ptrdiff_t)(iy * in_w + ix0) * 3;
    if (t0 == 0 && t1 == 9) {
      r[fy] = src;
      continue;
    }
    buf[fy][2] = zp4;
    if (t0 == 0 && t1 == 6) { /* the last column outside: bytes 0 .. 5 (no read past byte 5) */
      uint32_t x;
      uint16_t h;
      memcpy(&x, src, 4);
      memcpy(&h, src + 4, 2);
      buf[fy][0] = x;
      buf[fy][1] = (uint32_t)h | (zp4 & 0xFFFF0000u);
      continue;
    }
    buf[fy][0] = buf[fy][1] = zp4;
    for (int32_t t = t0; t < t1; ++t) d[t] = src[t];
  }
  tm2_widen_rows_3x9(r[0], r[1], r[2], off2, col);
}

/* tm2_widen_rows_3x9 for a pixel whose third column is the first past the input's right edge (rows r, r + rs,
 * r + 2 rs inside the input): bytes 0 .. 5 of each row from the input (no read past byte 5), the zero point for
 * bytes 6 .. 8 (it widens to 0), so the last bytes' position pairs are zero words. */
static inline __attribute__((always_inline)) void tm2_widen_rows_3x6(const int8_t *r, int32_t rs, uint32_t zp4,
                                                                     uint32_t off2, uint32_t *col) {
  for (int32_t fy = 0; fy < 3; ++fy, r += rs, col += 16) {
    uint32_t x;
    uint16_t h;
    memcpy(&x, r, 4);
    memcpy(&h, r + 4, 2);
    const uint32_t y = (uint32_t)h | (zp4 & 0xFFFF0000u);
    col[0] = __sxtab16(off2, x);
    col[4] = tm2_sxtab16_ror8(off2, x);
    col[8] = __sxtab16(off2, y);
    col[12] = tm2_sxtab16_ror8(off2, y);
  }
  col[0] = 0;
  col[4] = 0;
}

/* One block of four pixels of tm2_conv_first_fast with a tap outside the input (or rows outside it: rows_in 0),
 * pixel by pixel: those whose columns are all inside straight from the input rows, filter rows outside the input
 * reading a row of the zero point (which widens to 0); those whose third column is the first past the right edge
 * (SAME padding at stride 2), every row inside, tm2_widen_rows_3x6; the others tm2_first_edge_pixel. */
__attribute__((noinline)) static void tm2_first_edge_block(const int8_t *in_b, int32_t in_h, int32_t in_w, int32_t iy0,
                                                           int32_t ix0, int32_t sw, int rows_in, int32_t off,
                                                           uint32_t *col) {
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const uint32_t zp4 = (uint32_t)(uint8_t)(-off) * 0x01010101u;
  const uint32_t zrow[3] = {zp4, zp4, zp4}; /* a filter row of the zero point */
  const int8_t *const z = (const int8_t *)zrow;
  const int32_t rs = 3 * in_w;
  const int ok0 = iy0 >= 0 && iy0 < in_h, ok1 = iy0 + 1 >= 0 && iy0 + 1 < in_h, ok2 = iy0 + 2 >= 0 && iy0 + 2 < in_h;
  for (int32_t s = 0, ix = ix0; s < 4; ++s, ix += sw) {
    if (ix >= 0 && ix + 3 <= in_w) {
      const int8_t *r0 = ok0 ? in_b + (ptrdiff_t)(iy0 * in_w + ix) * 3 : z;
      const int8_t *r1 = ok1 ? in_b + (ptrdiff_t)((iy0 + 1) * in_w + ix) * 3 : z;
      const int8_t *r2 = ok2 ? in_b + (ptrdiff_t)((iy0 + 2) * in_w + ix) * 3 : z;
      tm2_widen_rows_3x9(r0, r1, r2, off2, col + s);
    } else if (rows_in && ix >= 0 && ix + 2 == in_w) {
      tm2_widen_rows_3x6(in_b + (size_t)(iy0 * in_w + ix) * 3, rs, zp4, off2, col + s);
    } else {
      tm2_first_edge_pixel(in_b, in_h, in_w, iy0, ix, off, off2, col + s);
    }
  }
}

/* Pixel `slot` (a constant) of TM2_WIDEN_3X9_4C, in assembly: its six words and three bytes loaded back to back
 * (one run of pipelined loads) at immediate offsets o from the row pointers, the two bytes of rows 0 and 1 joined
 * (ORR), each word widened by SXTAB16 (input offset added) and stored at an immediate offset into the slot's words
 * of the column buffer (position pair j at col[4 j + slot]): 39 cycles. */
#define TM2_W39_WORD(X, C)                                  \
  "sxtab16 %[t1], %[o2], %[" X "]\n\t"                      \
  "str %[t1], [%[col], #(" C ")]\n\t"                       \
  "sxtab16 %[" X "], %[o2], %[" X "], ror #8\n\t"           \
  "str %[" X "], [%[col], #(" C ")+16]\n\t"
static inline __attribute__((always_inline)) void tm2_widen_3x9_at(const int8_t *r0, const int8_t *r1, const int8_t *r2,
                                                                   const int32_t o, uint32_t off2, uint32_t *col,
                                                                   const int32_t slot) {
  uint32_t x0, y0, x1, y1, x2, y2, t0, t1, t2;
  __asm__ volatile(
      "ldr %[x0], [%[r0], %[o0]]\n\t"
      "ldr %[y0], [%[r0], %[o4]]\n\t"
      "ldr %[x1], [%[r1], %[o0]]\n\t"
      "ldr %[y1], [%[r1], %[o4]]\n\t"
      "ldr %[x2], [%[r2], %[o0]]\n\t"
      "ldr %[y2], [%[r2], %[o4]]\n\t"
      "ldrb %[t0], [%[r0], %[o8]]\n\t"
      "ldrb %[t1], [%[r1], %[o8]]\n\t"
      "ldrb %[t2], [%[r2], %[o8]]\n\t"
      "orr %[t0], %[t0], %[t1], lsl #16\n\t"
      TM2_W39_WORD("x0", "%c[c]") TM2_W39_WORD("y0", "%c[c]+32") TM2_W39_WORD("x1", "%c[c]+64")
      TM2_W39_WORD("y1", "%c[c]+96") TM2_W39_WORD("x2", "%c[c]+128") TM2_W39_WORD("y2", "%c[c]+160")
      "sxtab16 %[t0], %[o2], %[t0]\n\t"
      "str %[t0], [%[col], #(%c[c]+192)]\n\t"
      "sxtab16 %[t2], %[o2], %[t2]\n\t"
      "str %[t2], [%[col], #(%c[c]+208)]\n\t"
      : [x0] "=&r"(x0), [y0] "=&r"(y0), [x1] "=&r"(x1), [y1] "=&r"(y1), [x2] "=&r"(x2), [y2] "=&r"(y2),
        [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), "=m"(*(uint32_t(*)[56])col)
      : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [o0] "i"(o), [o4] "i"(o + 4), [o8] "i"(o + 8), [o2] "r"(off2),
        [col] "r"(col), [c] "i"(4 * slot), "m"(*(const int8_t(*)[32])r0), "m"(*(const int8_t(*)[32])r1),
        "m"(*(const int8_t(*)[32])r2));
}
#undef TM2_W39_WORD

/* Four pixels of 3x3 filters of three channels PS (a constant: 3 or 6) bytes apart, straight-line. */
#define TM2_WIDEN_3X9_4C(SRC, PS, RS, OFF2, COL)                        \
  do {                                                                  \
    const int8_t *r0_ = (SRC), *r1_ = r0_ + (RS), *r2_ = r1_ + (RS);     \
    tm2_widen_3x9_at(r0_, r1_, r2_, 0, (OFF2), (COL), 0);               \
    tm2_widen_3x9_at(r0_, r1_, r2_, (PS), (OFF2), (COL), 1);            \
    tm2_widen_3x9_at(r0_, r1_, r2_, 2 * (PS), (OFF2), (COL), 2);        \
    tm2_widen_3x9_at(r0_, r1_, r2_, 3 * (PS), (OFF2), (COL), 3);        \
  } while (0)

#if defined(__ARM_FP)
/* The FPU-register form of tm2_conv_first_fast's interior blocks, for stride_w 2, out_c 8 and TM2_RQ_HIGHMUL_E records
 * of shift E (vww's 96x96 first layer): one asm statement runs every interior block of an output row (and the block
 * at its right edge, from a copy of its rows). Per block, pixels 0 and 1 are widened into the single registers s0 ..
 * s26 (position pair j of pixel s in s(2 j + s), pair 13 of both in s26), pixels 2 and 3 into their slots of the
 * column buffer; a step of the product then loads the position pair's two weight words and pixels 2 and 3's column
 * words in one run and fetches pixels 0 and 1's by one VMOV of two registers (two cycles, no new run of loads): 15
 * cycles for 16 multiply-accumulates, where TM2_GEMM_STEP takes 16 (its six loads need two runs: fourteen registers
 * hold the eight sums, the two pointers and at most four loaded words); position pair 13, whose second slot is
 * padding, 13 cycles (TM2_FS_STEP13). The four channel pairs run straight-line and store at immediate offsets from
 * the output pointer; it, the block's input, the row's output end and the packed stream wait in s28 .. s30 and s27
 * (VMOV: one cycle), so that the loop needs no memory besides its operands (about 1,132 cycles a block of 4 pixels,
 * 864 multiply-accumulates). */
/* One word X of a pixel's rows widened by SXTAB16 (the input offset in x1) into registers: bytes 0 and 2 into SA, 1
 * and 3 into SB (px the scratch register). */
#define TM2_FS_WORD(X, SA, SB)                          \
  "sxtab16 %[px], %[x1], %[" X "]\n\t"                  \
  "vmov " SA ", %[px]\n\t"                              \
  "sxtab16 %[" X "], %[x1], %[" X "], ror #8\n\t"       \
  "vmov " SB ", %[" X "]\n\t"
/* The same into the column buffer at px + C and px + C + 16 (b3 the scratch register). */
#define TM2_FM_WORD(X, C)                               \
  "sxtab16 %[b3], %[x1], %[" X "]\n\t"                  \
  "str %[b3], [%[px], #(" C ")]\n\t"                    \
  "sxtab16 %[" X "], %[x1], %[" X "], ror #8\n\t"       \
  "str %[" X "], [%[px], #(" C ")+16]\n\t"
/* The loads of the pixel O bytes on (a decimal string) from the row pointers w0, w1, x0: its rows' six words and the
 * ninth bytes of rows 0 and 1 (b2, b3), in one run. */
#define TM2_FS_LOAD8(O)                                 \
  "ldr %[a0], [%[w0], #" O "]\n\t"                      \
  "ldr %[a1], [%[w0], #" O "+4]\n\t"                    \
  "ldr %[a2], [%[w1], #" O "]\n\t"                      \
  "ldr %[a3], [%[w1], #" O "+4]\n\t"                    \
  "ldr %[b0], [%[x0], #" O "]\n\t"                      \
  "ldr %[b1], [%[x0], #" O "+4]\n\t"                    \
  "ldrb %[b2], [%[w0], #" O "+8]\n\t"                   \
  "ldrb %[b3], [%[w1], #" O "+8]\n\t"
/* The ninth bytes of rows 0 and 1 joined by ORR into b2's halves (as in tm2_widen_3x9_at). */
#define TM2_FS_JOIN "orr %[b2], %[b2], %[b3], lsl #16\n\t"
/* A pixel's position pairs 0 .. 12 (its loaded words a0 .. b2) into the single registers S0 .. S12. */
#define TM2_FS_WORDS(S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11, S12)                            \
  TM2_FS_WORD("a0", S0, S1) TM2_FS_WORD("a1", S2, S3) TM2_FS_WORD("a2", S4, S5)                      \
  TM2_FS_WORD("a3", S6, S7) TM2_FS_WORD("b0", S8, S9) TM2_FS_WORD("b1", S10, S11)                   \
  "sxtab16 %[b2], %[x1], %[b2]\n\t"                                                                 \
  "vmov " S12 ", %[b2]\n\t"
/* Pixels 0 and 1 (bytes 0 and 6 on) into the single registers s0 .. s25 (position pair j of pixel s in s(2 j + s))
 * and s26: position pair 13 (row 2's ninth byte and a zero weight) of both pixels in one word, pixel 0's in the low
 * half, pixel 1's in the high one (both bytes loaded in pixel 1's run), for the SMLAxy of the product's last step. */
#define TM2_FS_PIXELS01                                                                              \
  TM2_FS_LOAD8("0") TM2_FS_JOIN                                                                      \
  TM2_FS_WORDS("s0", "s2", "s4", "s6", "s8", "s10", "s12", "s14", "s16", "s18", "s20", "s22", "s24") \
  TM2_FS_LOAD8("6")                                                                                  \
  "ldrb %[pw], [%[x0], #14]\n\t"                                                                     \
  "ldrb %[px], [%[x0], #8]\n\t" TM2_FS_JOIN                                                          \
  "orr %[pw], %[px], %[pw], lsl #16\n\t"                                                             \
  TM2_FS_WORDS("s1", "s3", "s5", "s7", "s9", "s11", "s13", "s15", "s17", "s19", "s21", "s23", "s25") \
  "sxtab16 %[pw], %[x1], %[pw]\n\t"                                                                  \
  "vmov s26, %[pw]\n\t"
/* Pixel 2 or 3 (O: "12" or "18") into its slot of the column buffer (C: its first word's offset, "8" or "12"), its
 * position pair 13 as a halfword at H (pixel 2's at 216, pixel 3's at 218: one word for the SMLAxy of the product's
 * last step, which reads no high half of the pair's words). */
#define TM2_FM_PIXEL(O, C, H)                                                                       \
  TM2_FS_LOAD8(O) "ldrb %[pw], [%[x0], #" O "+8]\n\t" TM2_FS_JOIN                                   \
  TM2_FM_WORD("a0", C) TM2_FM_WORD("a1", C "+32") TM2_FM_WORD("a2", C "+64")                        \
  TM2_FM_WORD("a3", C "+96") TM2_FM_WORD("b0", C "+128") TM2_FM_WORD("b1", C "+160")                \
  "sxtab16 %[b2], %[x1], %[b2]\n\t"                                                                 \
  "str %[b2], [%[px], #(" C ")+192]\n\t"                                                            \
  "sxtab16 %[pw], %[x1], %[pw]\n\t"                                                                 \
  "strh %[pw], [%[px], #" H "]\n\t"
/* Position pair J (a decimal string) of a channel pair: pixels 2 and 3 from the column buffer (slots 2 and 3 at
 * px + 16 J), pixels 0 and 1 from SA, SB. */
#define TM2_FS_STEP(J, SA, SB) TM2_PF_STEP_AT("16*" J, SA, SB)
/* Position pair 13: its weights' high halves are 0 (the pair's second slot is padding), so that the low halves alone
 * multiply, by SMLABB / SMLATB on the pixel pairs' joined words (pixels 2 and 3 at px + 216, pixels 0 and 1 in s26):
 * three loads and a single VMOV where TM2_FS_STEP takes four and a VMOV of two registers. */
#define TM2_FS_STEP13                                   \
  "ldr %[w0], [%[pw]], #4\n\t"                          \
  "ldr %[w1], [%[pw]], #4\n\t"                          \
  "ldr %[x0], [%[px], #216]\n\t"                        \
  "smlabb %[a2], %[x0], %[w0], %[a2]\n\t"               \
  "smlatb %[a3], %[x0], %[w0], %[a3]\n\t"               \
  "smlabb %[b2], %[x0], %[w1], %[b2]\n\t"               \
  "smlatb %[b3], %[x0], %[w1], %[b3]\n\t"               \
  "vmov %[x1], s26\n\t"                                 \
  "smlabb %[a0], %[x1], %[w0], %[a0]\n\t"               \
  "smlatb %[a1], %[x1], %[w0], %[a1]\n\t"               \
  "smlabb %[b0], %[x1], %[w1], %[b0]\n\t"               \
  "smlatb %[b1], %[x1], %[w1], %[b1]\n\t"
/* TM2_RQ_HIGHMUL_E of accumulator A (multiplier M, offset H, the shift operand e). */
#define TM2_FS_RQ(A, M, H)                               \
  "smmla %[" A "], %[" A "], %[" M "], %[" H "]\n\t"      \
  "ssat %[" A "], #8, %[" A "], asr %[e]\n\t"
/* One channel pair (K: "0" .. "3"): position pair 0 from the biases (the column words first, so that pw's VMOV
 * from s27 before pair 0 costs no address stall), the other thirteen, the eight requantisations (both records in one
 * run of loads, the output pointer from s28 before the last) and the stores at 2 K (+ 1) + 8 s from it. */
#define TM2_FS_PAIR(K)                                                                                      \
  "ldr %[x0], [%[px], #8]\n\t"                                                                            \
  "ldr %[x1], [%[px], #12]\n\t"                                                                           \
  "ldr %[a0], [%[pw]], #4\n\t"                                                                            \
  "ldr %[b0], [%[pw]], #4\n\t"                                                                            \
  "ldr %[w0], [%[pw]], #4\n\t"                                                                            \
  "ldr %[w1], [%[pw]], #4\n\t"                                                                            \
  "smlad %[a2], %[x0], %[w0], %[a0]\n\t"                                                                  \
  "smlad %[b2], %[x0], %[w1], %[b0]\n\t"                                                                  \
  "smlad %[a3], %[x1], %[w0], %[a0]\n\t"                                                                  \
  "smlad %[b3], %[x1], %[w1], %[b0]\n\t"                                                                  \
  "vmov %[x0], %[x1], s0, s1\n\t"                                                                         \
  "smlad %[a1], %[x1], %[w0], %[a0]\n\t"                                                                  \
  "smlad %[b1], %[x1], %[w1], %[b0]\n\t"                                                                  \
  "smlad %[a0], %[x0], %[w0], %[a0]\n\t"                                                                  \
  "smlad %[b0], %[x0], %[w1], %[b0]\n\t"                                                                  \
  TM2_FS_STEP("1", "s2", "s3") TM2_FS_STEP("2", "s4", "s5") TM2_FS_STEP("3", "s6", "s7")                  \
  TM2_FS_STEP("4", "s8", "s9") TM2_FS_STEP("5", "s10", "s11") TM2_FS_STEP("6", "s12", "s13")              \
  TM2_FS_STEP("7", "s14", "s15") TM2_FS_STEP("8", "s16", "s17") TM2_FS_STEP("9", "s18", "s19")            \
  TM2_FS_STEP("10", "s20", "s21") TM2_FS_STEP("11", "s22", "s23") TM2_FS_STEP("12", "s24", "s25")         \
  TM2_FS_STEP13                                                                                           \
  "ldr %[w0], [%[pw]], #4\n\t"                                                                            \
  "ldr %[w1], [%[pw]], #8\n\t"                                                                            \
  "ldr %[x0], [%[pw]], #4\n\t"                                                                            \
  "ldr %[x1], [%[pw]], #8\n\t" TM2_FS_RQ("a0", "w0", "w1") TM2_FS_RQ("a1", "w0", "w1")                   \
  TM2_FS_RQ("a2", "w0", "w1") TM2_FS_RQ("a3", "w0", "w1") TM2_FS_RQ("b0", "x0", "x1")                     \
  TM2_FS_RQ("b1", "x0", "x1") TM2_FS_RQ("b2", "x0", "x1")                                                 \
  "vmov %[w0], s28\n\t" TM2_FS_RQ("b3", "x0", "x1")                                                       \
  "strb %[a0], [%[w0], #(2*" K ")]\n\t"                                                                   \
  "strb %[a1], [%[w0], #(2*" K "+8)]\n\t"                                                                 \
  "strb %[a2], [%[w0], #(2*" K "+16)]\n\t"                                                                \
  "strb %[a3], [%[w0], #(2*" K "+24)]\n\t"                                                                \
  "strb %[b0], [%[w0], #(2*" K "+1)]\n\t"                                                                 \
  "strb %[b1], [%[w0], #(2*" K "+9)]\n\t"                                                                 \
  "strb %[b2], [%[w0], #(2*" K "+17)]\n\t"                                                                \
  "strb %[b3], [%[w0], #(2*" K "+25)]\n\t"
/* Blocks of one output row from the one whose first pixel's first row starts at SRC (blocks 24 bytes apart) until
 * the output reaches OEND (SRC, OEND, the row stride RS and EB lvalues, RS and EB written): col the column buffer, op
 * the first block's output (moved on by 32 bytes a block), E the shift (a constant). EB, when not null, is one more
 * block after them, from its rows' copy (three rows 28 bytes apart, tm2_first_s8_edge_rows): the loop runs on into
 * it (s29, s30 and RS set, EB cleared), so that the block at a row's right edge costs no second entry. Op, the input
 * and the output's end wait in s28 .. s30, the packed stream in s27. */
#define TM2_FIRST_S8_ROW(E, SRC, OEND, RS, EB)                                                              \
  __asm__ volatile(                                                                                         \
      "ldr %[w0], %[opm]\n\t"                                                                               \
      "ldr %[w1], %[srcm]\n\t"                                                                              \
      "ldr %[x0], %[oendm]\n\t"                                                                             \
      "ldr %[x1], %[pkm]\n\t"                                                                               \
      "vmov s28, %[w0]\n\t"                                                                                 \
      "vmov s29, %[w1]\n\t"                                                                                 \
      "vmov s30, %[x0]\n\t"                                                                                 \
      "vmov s27, %[x1]\n\t"                                                                                 \
      "1:\n\t"                                                                                              \
      "ldr %[px], %[rsm]\n\t"                                                                               \
      "ldr %[x1], %[o2m]\n\t"                                                                               \
      "vmov %[w0], s29\n\t"                                                                                 \
      "add %[w1], %[w0], #24\n\t"                                                                           \
      "vmov s29, %[w1]\n\t"                                                                                 \
      "add %[w1], %[w0], %[px]\n\t"                                                                         \
      "add %[x0], %[w1], %[px]\n\t"                                                                         \
      TM2_FS_PIXELS01                                                                                       \
      "ldr %[px], %[colm]\n\t" TM2_FM_PIXEL("12", "8", "216") TM2_FM_PIXEL("18", "12", "218")                \
      "vmov %[pw], s27\n\t" TM2_FS_PAIR("0") TM2_FS_PAIR("1") TM2_FS_PAIR("2") TM2_FS_PAIR("3")              \
      "vmov %[x0], s30\n\t"                                                                                 \
      "add %[w0], %[w0], #32\n\t"                                                                           \
      "vmov s28, %[w0]\n\t"                                                                                 \
      "cmp %[w0], %[x0]\n\t"                                                                                \
      "bne 1b\n\t"                                                                                          \
      "ldr %[w1], %[ebm]\n\t"                                                                               \
      "cmp %[w1], #0\n\t"                                                                                   \
      "beq 2f\n\t"                                                                                          \
      "movs %[x0], #0\n\t"                                                                                  \
      "str %[x0], %[ebm]\n\t"                                                                               \
      "movs %[x0], #28\n\t"                                                                                 \
      "str %[x0], %[rsm]\n\t"                                                                               \
      "add %[x0], %[w0], #32\n\t"                                                                           \
      "vmov s29, %[w1]\n\t"                                                                                 \
      "vmov s30, %[x0]\n\t"                                                                                 \
      "b 1b\n\t"                                                                                            \
      "2:\n\t"                                                                                              \
      "str %[w0], %[opm]\n\t"                                                                               \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1),     \
        [b2] "=&r"(b2), [b3] "=&r"(b3), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),      \
        [px] "=&r"(px), [pw] "=&r"(pwr), [opm] "+m"(op), [rsm] "+m"(RS), [ebm] "+m"(EB)                     \
      : [srcm] "m"(SRC), [oendm] "m"(OEND), [o2m] "m"(off2), [colm] "m"(col),                               \
        [pkm] "m"(packed), [e] "i"(E)                                                                       \
      : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",    \
        "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26",   \
        "s27", "s28", "s29", "s30")
#endif

/* The pair loop of tm2_conv_first_fast with the requantisation RQ, out_c 8 and 16 by BLOCK8 (stores at immediate
 * offsets: TM2_GEMM_PAIRS_XC, or TM2_GEMM_PAIRS_Q, four channel pairs a loop step, for the forms without sign
 * correction, output offset -128). */
#define TM2_FIRST_PAIRS_BY(BLOCK8, RQ)                \
  switch (out_c) {                                    \
    case 8:                                           \
      BLOCK8(RQ, TM2_GEMM_STEP13, 8);                 \
      break;                                          \
    case 16:                                          \
      BLOCK8(RQ, TM2_GEMM_STEP13, 16);                \
      break;                                          \
    default:                                          \
      TM2_GEMM_PAIRS_X(RQ, TM2_GEMM_STEP13);          \
      break;                                          \
  }
#define TM2_FIRST_PAIRS(RQ) TM2_FIRST_PAIRS_BY(TM2_GEMM_PAIRS_XC, RQ)
#define TM2_FIRST_PAIRS_LOW(RQ) TM2_FIRST_PAIRS_BY(TM2_GEMM_PAIRS_Q, RQ)
/* The TM2_RQ_HIGHMUL_E case of shift E. */
#define TM2_FIRST_CASE_E(E)               \
  case E:                                 \
    TM2_FIRST_PAIRS_LOW(TM2_GEMM_RQ_E##E) \
    break;

/* A block of four pixels at stride_w 2 with a tap outside the input, for TM2_FIRST_S8_ROW: the nine input columns
 * ix0 .. ix0 + 8 of rows iy0 .. iy0 + 2 (three channels each) as three rows of 28 bytes, the zero point (which widens
 * to 0) for the columns and rows outside the input. */
static inline __attribute__((always_inline)) void tm2_first_s8_edge_rows(const int8_t *in_b, int32_t in_h,
                                                                         int32_t in_w, int32_t iy0, int32_t ix0,
                                                                         uint32_t zp4, uint32_t buf[3][7]) {
  const int32_t c0 = tm2_max_i32(0, -ix0), c1 = tm2_min_i32(9, in_w - ix0); /* the columns inside */
  for (int32_t fy = 0; fy < 3; ++fy) {
    uint32_t *d = buf[fy];
    const int32_t iy = iy0 + fy;
    const int8_t *src = in_b + ((ptrdiff_t)iy * in_w + ix0) * 3;
    if (iy < 0 || iy >= in_h || c0 >= c1) {
      for (int32_t k = 0; k < 7; ++k) d[k] = zp4;
    } else if (c0 == 0 && c1 >= 8) { /* the right edge (vww's last block of a row) or none: six words, three bytes */
      memcpy(d, src, 24);
      d[6] = zp4;
      if (c1 == 9) memcpy(&d[6], src + 24, 3);
    } else {
      for (int32_t k = 0; k < 7; ++k) d[k] = zp4;
      memcpy((int8_t *)d + 3 * c0, src + 3 * c0, (size_t)(3 * (c1 - c0)));
    }
  }
}

#if defined(__ARM_FP)
/* The copy of tm2_first_s8_edge_rows for the block whose last input column (bytes 24 .. 26 of each row) is the first
 * past the right edge, its three rows (from r, rs bytes apart) inside: each row's first 24 bytes and the zero point
 * word, straight-line (six loads in one run and seven stores a row). */
static inline __attribute__((always_inline)) void tm2_first_s8_right_rows(const int8_t *r, int32_t rs, uint32_t zp4,
                                                                          uint32_t buf[3][7]) {
  uint32_t t0, t1, t2, t3, t4, t5;
#define TM2_FS_COPY_ROW(D)                  \
  "ldr %[t0], [%[r]]\n\t"                   \
  "ldr %[t1], [%[r], #4]\n\t"               \
  "ldr %[t2], [%[r], #8]\n\t"               \
  "ldr %[t3], [%[r], #12]\n\t"              \
  "ldr %[t4], [%[r], #16]\n\t"              \
  "ldr %[t5], [%[r], #20]\n\t"              \
  "str %[t0], [%[d], #" D "]\n\t"           \
  "str %[t1], [%[d], #" D "+4]\n\t"         \
  "str %[t2], [%[d], #" D "+8]\n\t"         \
  "str %[t3], [%[d], #" D "+12]\n\t"        \
  "str %[t4], [%[d], #" D "+16]\n\t"        \
  "str %[t5], [%[d], #" D "+20]\n\t"        \
  "str %[z], [%[d], #" D "+24]\n\t"
  __asm__ volatile(TM2_FS_COPY_ROW("0") "add %[r], %[r], %[rs]\n\t" TM2_FS_COPY_ROW("28")
                   "add %[r], %[r], %[rs]\n\t" TM2_FS_COPY_ROW("56")
                   : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),
                     [t5] "=&r"(t5), [r] "+&r"(r), "=m"(*(uint32_t(*)[3][7])buf)
                   : [rs] "r"(rs), [d] "r"(buf), [z] "r"(zp4)
                   : "memory");
#undef TM2_FS_COPY_ROW
}
#endif

/* Inlined into the entries tm2_conv2d_s8_packed_first3x3 (rqe 0: TM2_RQ_HIGHMUL records, both output offset forms)
 * and _first3x3_e<E> (rqe = E: TM2_RQ_HIGHMUL_E records of shift E); s2o8 (the entries _first3x3s2o8_e<E>, for
 * layers of stride_w 2 and out_c 8 only: packing.conv_packed_entry and the dispatcher name them for those): every
 * block in the FPU-register form (TM2_FIRST_S8_ROW; the block at a row's right edge with only its last column
 * outside from a copy of its rows, tm2_first_s8_right_rows, run on by the interior blocks' loop; the other blocks with
 * a tap outside the input from a copy of their rows, tm2_first_s8_edge_rows), which the other entries leave out (4 KB
 * of code), and none of the other loops. */
__attribute__((always_inline)) static inline void tm2_conv_first_fast(const tm2_conv_packed_params *p,
                                                                      const int8_t *input, const int32_t *packed,
                                                                      void *scratch, int8_t *output,
                                                                      const int32_t rqe, const int s2o8,
                                                                      const int32_t oc) {
#if !defined(__ARM_FP)
  (void)s2o8; /* no FPU-register form */
#endif
  /* oc: 0 (out_c from p) or the layer's out_c as a constant (the entries _first3x3o<OC>_e<E>: that loop alone) */
  const int32_t out_c = oc ? oc : p->out_c, out_w = p->out_w, in_w = p->in_w, in_h = p->in_h;
  const int32_t zp = p->output_offset, off = p->input_offset;
  const int32_t sw = p->stride_w;
  const int32_t ps = 3 * sw, rs = 3 * in_w;
  uint32_t *col = (uint32_t *)scratch;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const uint32_t zp4 = (uint32_t)(uint8_t)(-off) * 0x01010101u;
  const int32_t bstep = 4 * ps, op_step = 3 * out_c; /* input bytes between blocks; op's move after the asm */
  const int32_t *wend = packed + (size_t)(out_c >> 1) * TM2_CONV_PACKED_PAIR_WORDS(28);
  /* blocks lo .. hi - 1 of a row have every column inside the input (the same for every row) */
  const int32_t nblk = out_w >> 2;
  int32_t lo = 0, hi = nblk;
  while (lo < nblk && lo * 4 * sw - p->pad_w < 0) ++lo;
  while (hi > lo && (hi - 1) * 4 * sw - p->pad_w + 3 * sw + 3 > in_w) --hi;
#if defined(__ARM_FP)
  /* s2o8: the block after the interior ones has only its last input column outside (SAME padding of one column on
   * the right, as vww's 96 at stride 2) */
  const int redge = hi > lo && hi < nblk && hi * 8 - p->pad_w + 8 == in_w;
#endif
  int8_t *op = output;
  int32_t a0, a1, a2, a3, b0, b1, b2, b3;
  uint32_t w0, w1, x0, x1, px;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_h * in_w * 3;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      const int rows_in = iy0 >= 0 && iy0 + 2 < in_h;
      /* the blocks by their first pixel's bytes src (block 0's at src0; it may lie before the tensor with left
       * padding, and is then not read): the interior ones [src0 + lo bstep, + span), the others at the edges */
      const int8_t *const src0 = in_b + (ptrdiff_t)(iy0 * in_w - p->pad_w) * 3;
      const int8_t *const src_lo = src0 + lo * bstep;
      const uintptr_t span = rows_in ? (uintptr_t)((hi - lo) * bstep) : 0u;
      for (const int8_t *src = src0; src != src0 + nblk * bstep; src += bstep) {
#if defined(__ARM_FP)
        if (s2o8) { /* stride_w 2, out_c 8: the FPU-register form (op moved on there) */
          uint32_t pwr, buf[3][7];
          if ((uintptr_t)(src - src_lo) < span) { /* this row's first interior block: all of them */
            const int8_t *const stop = src_lo + span;
            const int8_t *const oend = op + (hi - lo) * 32;
            int32_t rsv = rs;
            const int8_t *eb = NULL;
            if (redge) { /* and the block at stop (its last column outside) from its rows' copy, in the same loop */
              tm2_first_s8_right_rows(stop, rs, zp4, buf);
              eb = (const int8_t *)buf;
            }
            TM2_FIRST_S8_ROW(rqe ? rqe : 1, src, oend, rsv, eb);
            src = redge ? stop : stop - bstep;
          } else { /* a block at an edge: from a copy of its rows */
            tm2_first_s8_edge_rows(in_b, in_h, in_w, iy0, (int32_t)(src - src0) / 3 - p->pad_w, zp4, buf);
            const int8_t *bsrc = (const int8_t *)buf, *eb = NULL, *const oend = op + 32;
            int32_t brs = 28;
            TM2_FIRST_S8_ROW(rqe ? rqe : 1, bsrc, oend, brs, eb);
          }
          continue;
        }
#endif
        if ((uintptr_t)(src - src_lo) < span) {
          if (sw == 2) {
            TM2_WIDEN_3X9_4C(src, 6, rs, off2, col);
          } else if (sw == 1) {
            TM2_WIDEN_3X9_4C(src, 3, rs, off2, col);
          } else {
            tm2_widen_rows_3x9_4(src, ps, rs, off, col);
          }
        } else {
          const int32_t ix0 = (int32_t)(src - src0) / 3 - p->pad_w; /* the block's first input column */
          if (rows_in && (sw == 1 || sw == 2) && ix0 >= 0 && ix0 + 3 * sw + 2 == in_w) {
            /* the last block of a row with SAME padding of one column on the right (vww's 96x96 at stride 2):
             * pixels 0 .. 2 inside, pixel 3's third column the first past the edge */
            const int8_t *r0 = src, *r1 = src + rs, *r2 = src + 2 * rs;
            if (sw == 1) {
              tm2_widen_3x9_at(r0, r1, r2, 0, off2, col, 0);
              tm2_widen_3x9_at(r0, r1, r2, 3, off2, col, 1);
              tm2_widen_3x9_at(r0, r1, r2, 6, off2, col, 2);
            } else {
              tm2_widen_3x9_at(r0, r1, r2, 0, off2, col, 0);
              tm2_widen_3x9_at(r0, r1, r2, 6, off2, col, 1);
              tm2_widen_3x9_at(r0, r1, r2, 12, off2, col, 2);
            }
            tm2_widen_rows_3x6(src + 3 * ps, rs, zp4, off2, col + 3);
          } else {
            tm2_first_edge_block(in_b, in_h, in_w, iy0, ix0, sw, rows_in, off, col);
          }
        }
        const int32_t *pw = packed;
        /* out_c is a memory operand of the pair loops' asm, so that to the compiler the calls above may have
         * changed it: restated, a build-time out_c keeps only its own loop */
        if (oc != 0 && out_c != oc) __builtin_unreachable();
        switch (rqe) {
          TM2_CONV_RQ_SHIFTS(TM2_FIRST_CASE_E)
          default:
            if (zp == -128) {
              TM2_FIRST_PAIRS_LOW(TM2_GEMM_RQ_LOW)
            } else {
              TM2_FIRST_PAIRS(TM2_GEMM_RQ_SIGNED)
            }
            break;
        }
        op += op_step; /* the asm moved op by out_c (two bytes per pair) */
      }
    }
  }
}
#undef TM2_FIRST_CASE_E
#if defined(__ARM_FP)
#undef TM2_FIRST_S8_ROW
#undef TM2_FS_PAIR
#undef TM2_FS_RQ
#undef TM2_FS_STEP
#undef TM2_PF_STEP_AT
#undef TM2_FM_PIXEL
#undef TM2_FS_PIXELS01
#undef TM2_FS_WORDS
#undef TM2_FS_JOIN
#undef TM2_FS_LOAD8
#undef TM2_FS_STEP13
#undef TM2_FM_WORD
#undef TM2_FS_WORD
#endif
#undef TM2_FIRST_PAIRS_LOW
#undef TM2_FIRST_PAIRS
#undef TM2_FIRST_PAIRS_BY

/* Five filter rows of one word (rows r1, r2, r3, r4 bytes after the first at s) into one slot of the column buffer
 * from its word w (row k at w[8 k] and w[8 k + 4]), the five words loaded in one run. */
static inline __attribute__((always_inline)) void tm2_rows4_five(const int8_t *s, int32_t r1, int32_t r2, int32_t r3,
                                                                 int32_t r4, uint32_t off2, uint32_t *w) {
  uint32_t x[5];
  __asm__ volatile("ldr %[x0], [%[s]]\n\t"
                   "ldr %[x1], [%[s], %[r1]]\n\t"
                   "ldr %[x2], [%[s], %[r2]]\n\t"
                   "ldr %[x3], [%[s], %[r3]]\n\t"
                   "ldr %[x4], [%[s], %[r4]]\n\t"
                   : [x0] "=&r"(x[0]), [x1] "=&r"(x[1]), [x2] "=&r"(x[2]), [x3] "=&r"(x[3]), [x4] "=&r"(x[4])
                   : [s] "r"(s), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3), [r4] "r"(r4)
                   : "memory");
#pragma GCC unroll 5
  for (int32_t k = 0; k < 5; ++k) {
    w[8 * k] = __sxtab16(off2, x[k]);
    w[8 * k + 4] = tm2_sxtab16_ror8(off2, x[k]);
  }
}

/* One pixel of tm2_conv_rows4_fast (10x4 filters of one channel) into one slot of the column buffer from its word w:
 * all ten filter rows inside the input, straight-line: every column inside, two runs of five loads (tm2_rows4_five);
 * otherwise a word per row with the bytes of columns outside the input (at most three) replaced by the zero point as
 * in tm2_widen_rows4; any other pixel: tm2_widen_rows4. */
static inline __attribute__((always_inline)) void tm2_rows4_pixel(const tm2_conv_packed_params *p, const int8_t *in_b,
                                                                  int32_t oy, int32_t ox, uint32_t off2, uint32_t *w) {
  const int32_t in_w = p->in_w, in_h = p->in_h;
  const int32_t iy0 = oy * p->stride_h - p->pad_h;
  const int32_t ix0 = ox * p->stride_w - p->pad_w;
  const int32_t first = iy0 * in_w + ix0;
  if (iy0 < 0 || iy0 + 10 > in_h || ix0 <= -4 || ix0 >= in_w || first < 0 || first + 9 * in_w + 4 > in_h * in_w) {
    tm2_widen_rows4(p, in_b, oy, ox, w);
    return;
  }
  const int8_t *src = in_b + first;
  if (ix0 >= 0 && ix0 + 4 <= in_w) {
    const int32_t r2 = 2 * in_w, r3 = 3 * in_w, r4 = 4 * in_w;
    tm2_rows4_five(src, in_w, r2, r3, r4, off2, w);
    tm2_rows4_five(src + r4 + in_w, in_w, r2, r3, r4, off2, w + 40);
    return;
  }
  /* bytes fx0 .. fx1 - 1 inside the row */
  const int32_t fx0 = tm2_max_i32(0, -ix0), fx1 = tm2_min_i32(4, in_w - ix0);
  const uint32_t keep = (fx1 >= 4 ? ~0u : (1u << (8 * fx1)) - 1u) & ~((1u << (8 * fx0)) - 1u);
  uint32_t fill = (uint32_t)(uint8_t)(-p->input_offset) * 0x01010101u & ~keep;
  __asm__("" : "+r"(fill)); /* opaque: x & keep | fill stays two instructions a row (not x ^ z & keep ^ z) */
#pragma GCC unroll 10
  for (int32_t fy = 0; fy < 10; ++fy, src += in_w, w += 8) {
    uint32_t x;
    memcpy(&x, src, 4);
    x = (x & keep) | fill;
    w[0] = __sxtab16(off2, x);
    w[4] = tm2_sxtab16_ror8(off2, x);
  }
}

/* The TM2_RQ_HIGHMUL_E case of shift E of tm2_conv_rows4_fast's pair loop. */
#define TM2_ROWS4_CASE_E(E)                                       \
  case E:                                                         \
    TM2_GEMM_PAIRS_QK(TM2_GEMM_XSTR(E), 19, 64);                 \
    break;

/* Layers of 10x4 filters of one channel (TM2_CONV_PATH_ROWS4: kws' first layer, Kp 40) of 64 output channels with
 * output offset -128 (TM2_GEMM_RQ_LOW) on the fast path, at least four pixels: blocks of four consecutive pixels (across output rows), each pixel widened one
 * word per filter row (tm2_widen_rows4), then the pair loop with its 19 steps straight-line and the stores at
 * immediate offsets (TM2_GEMM_PAIRS_XC); the last one to three pixels as in tm2_conv_general (the block moved back
 * to end at the last pixel, only its new pixels computed, tm2_gemm_pixel). */
__attribute__((always_inline)) static inline void tm2_conv_rows4_fast(const tm2_conv_packed_params *p,
                                                                      const int8_t *input, const int32_t *packed,
                                                                      void *scratch, int8_t *output,
                                                                      const int32_t rqe) {
  const int32_t out_c = 64, out_w = p->out_w, zp = p->output_offset;
  const int32_t pixels = p->out_h * out_w;
  uint32_t *col = (uint32_t *)scratch;
  const int32_t *wend = packed + (size_t)(out_c >> 1) * TM2_CONV_PACKED_PAIR_WORDS(40);
  const int32_t off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  int32_t a0, a1, a2, a3, b0, b1, b2, b3;
  uint32_t w0, w1, x0, x1, px;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w;
    int8_t *op = output + (size_t)b * pixels * out_c;
    int32_t oy = 0, ox = 0;
    for (int32_t n = pixels >> 2; n > 0; --n) {
      for (int32_t s = 0; s < 4; ++s) {
        tm2_rows4_pixel(p, in_b, oy, ox, off2, col + s);
        if (++ox == out_w) ox = 0, ++oy;
      }
      const int32_t *pw = packed;
      switch (rqe) {
        TM2_CONV_RQ_SHIFTS(TM2_ROWS4_CASE_E)
        default:
          TM2_GEMM_PAIRS_XC(TM2_GEMM_RQ_LOW, TM2_GEMM_STEP19, 64);
          break;
      }
      op += 3 * out_c; /* the asm moved op by out_c (two bytes per pair) */
    }
    const int32_t rest = pixels & 3;
    if (rest) {
      const int32_t pix0 = pixels - 4;
      oy = pix0 / out_w;
      ox = pix0 - oy * out_w;
      for (int32_t s = 0; s < 4; ++s) {
        tm2_widen_rows4(p, in_b, oy, ox, col + s);
        if (++ox == out_w) ox = 0, ++oy;
      }
      for (int32_t s = 4 - rest; s < 4; ++s) {
        tm2_gemm_pixel(packed, out_c >> 1, 40, col + s, op + (s - 4 + rest) * out_c, zp, p->rq_mode);
      }
    }
  }
}
#endif

/* The TM2_RQ_HIGHMUL_E case of shift E of tm2_conv_general_body's pair loop. */
#define TM2_GENERAL_CASE_E(E)                                   \
  case E:                                                       \
    if (steps <= TM2_GEMM_UNROLL) {                             \
      TM2_GEMM_PAIRS(TM2_GEMM_RQ_E##E, TM2_GEMM_ONE_PASS);      \
    } else {                                                    \
      TM2_GEMM_PAIRS(TM2_GEMM_RQ_E##E, TM2_GEMM_MORE_PASSES);   \
    }                                                           \
    break;

/* Every other layer (and, without the DSP extension, every layer): blocks of four pixels, im2col_block or the
 * widening inlined below, then the pair loop. Inlined into tm2_conv_general (rqe 0: the pair loop for TM2_RQ_HIGHMUL
 * records), tm2_conv2d_s8_packed_general_signed (the same, signed_only 1: without the loops of output offset -128,
 * which the sign-corrected ones compute too) and the entries tm2_conv2d_s8_packed_general_e<E> (rqe = E: for
 * TM2_RQ_HIGHMUL_E records of shift E); every other mode runs the C loop in any. */
__attribute__((always_inline)) static inline void tm2_conv_general_body(const tm2_conv_packed_params *p,
                                                                        const int8_t *input, const int32_t *packed,
                                                                        void *scratch, int8_t *output,
                                                                        const int32_t rqe, const int signed_only) {
#if !TM2_CONV_USE_DSP
  (void)rqe, (void)signed_only; /* one C loop for every mode */
#endif
  const int32_t kp = p->depth_padded;
  const int32_t out_c = p->out_c;
  const int32_t rec_words = TM2_CONV_PACKED_PAIR_WORDS(kp);
  const int32_t pixels = p->out_h * p->out_w;
  const int32_t mode = p->rq_mode;
  const int32_t zp = p->output_offset;
  uint32_t *col = (uint32_t *)scratch;
  int8_t *bytes = (int8_t *)scratch + 8 * kp;
  /* pointwise (four contiguous pixels per block): widened right here, without tm2_im2col_block */
  const int pointwise = (p->in_c & 3) == 0 && p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 &&
                        p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0 && p->in_w == p->out_w;
#if TM2_CONV_USE_DSP
  /* 3x3 filters of three channels (row layout), dilation 1: four pixels of one output row with every tap inside
   * widened right here too (tm2_widen_rows_3x9_4) */
  const int first_layer = p->in_c == 3 && p->filter_h == 3 && p->filter_w == 3 && p->dilation_h == 1 &&
                          p->dilation_w == 1;
  /* the same for in_c a multiple of 4 (dilation_w 1: filter rows are runs) */
  const int direct = first_layer || ((p->in_c & 3) == 0 && p->dilation_w == 1);
  const int32_t full_pairs = out_c / 2;
  const int fast = mode == (rqe ? TM2_RQ_HIGHMUL_E : TM2_RQ_HIGHMUL) && p->act_min == -128 && p->act_max == 127 &&
                   full_pairs > 0;
  const int32_t steps = kp / 2 - 1; /* steps after the prologue's first position pair */
  const int32_t eoff = (steps <= TM2_GEMM_UNROLL ? TM2_GEMM_UNROLL - steps
                                                 : (TM2_GEMM_UNROLL - steps % TM2_GEMM_UNROLL) % TM2_GEMM_UNROLL) *
                       TM2_GEMM_STEP_BYTES;
  const void *col_end = (const int8_t *)scratch + 8 * kp;
  const int32_t *wend = packed + (size_t)full_pairs * rec_words;
#endif
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    int8_t *out_b = output + (size_t)b * pixels * out_c;
    for (int32_t next = 0; next < pixels; next += 4) {
      /* A short last block moves back to end at the last pixel (its first pixels computed again, or, on the fast
       * path, only its last one or two pixels computed, tm2_gemm_pixel); the C loop stores only the new pixels,
       * so that a pointwise layer may run in place (tinym2net/ops/inplace.py: its output overwrites pixels read
       * already). Only a layer of fewer than four pixels has a block with unused slots. */
      const int32_t pix0 = next + 4 <= pixels || pixels < 4 ? next : pixels - 4;
      const int32_t npix = tm2_min_i32(4, pixels - pix0);
      if (pointwise && npix == 4) {
        tm2_widen4_body(in_b + (size_t)pix0 * p->in_c, p->in_c, p->in_c, p->input_offset, col);
      } else {
#if TM2_CONV_USE_DSP
        int done = 0;
        if (direct && npix == 4) {
          const int32_t oy = pix0 / p->out_w, ox = pix0 - oy * p->out_w;
          const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
          const int32_t fh = p->filter_h, fw = p->filter_w;
          if (ox + 3 < p->out_w && iy0 >= 0 && iy0 + (fh - 1) * p->dilation_h < p->in_h && ix0 >= 0 &&
              ix0 + 3 * p->stride_w + fw <= p->in_w) {
            const int32_t in_c = p->in_c;
            const int8_t *src = in_b + ((size_t)iy0 * p->in_w + ix0) * in_c;
            if (first_layer) {
              tm2_widen_rows_3x9_4(src, 3 * p->stride_w, 3 * p->in_w, p->input_offset, col);
            } else { /* in_c a multiple of 4: one run of filter_w * in_c bytes per filter row and pixel */
              tm2_widen4_rows(src, p->dilation_h * p->in_w * in_c, fh, p->stride_w * in_c, fw * in_c,
                              p->input_offset, col);
            }
            done = 1;
          }
        }
        if (!done) tm2_im2col_block(p, in_b, pix0, npix, col, bytes);
#else
        tm2_im2col_block(p, in_b, pix0, npix, col, bytes);
#endif
      }
      int8_t *out_blk = out_b + (size_t)pix0 * out_c;
      const int32_t *rec = packed;
      int32_t cp = 0;
#if TM2_CONV_USE_DSP
      if (fast && npix == 4 && pix0 != next && pixels - next <= 2) {
        /* the block moved back: only its last one or two pixels are new, pixel by pixel */
        for (int32_t s = 4 - (pixels - next); s < 4; ++s) {
          tm2_gemm_pixel(packed, full_pairs, kp, col + s, out_blk + (size_t)s * out_c, zp, mode);
        }
        cp = full_pairs;
        rec = wend;
      } else if (fast && npix == 4) {
        const int32_t *pw = packed;
        int8_t *op = out_blk;
        const void *entry;
        int32_t a0, a1, a2, a3, b0, b1, b2, b3;
        uint32_t w0, w1, x0, x1, px;
        switch (rqe) {
          TM2_CONV_RQ_SHIFTS(TM2_GENERAL_CASE_E)
          default:
            if (steps <= TM2_GEMM_UNROLL) {
              if (!signed_only && zp == -128) {
                TM2_GEMM_PAIRS(TM2_GEMM_RQ_LOW, TM2_GEMM_ONE_PASS);
              } else {
                TM2_GEMM_PAIRS(TM2_GEMM_RQ_SIGNED, TM2_GEMM_ONE_PASS);
              }
            } else if (!signed_only && zp == -128) {
              TM2_GEMM_PAIRS(TM2_GEMM_RQ_LOW, TM2_GEMM_MORE_PASSES);
            } else {
              TM2_GEMM_PAIRS(TM2_GEMM_RQ_SIGNED, TM2_GEMM_MORE_PASSES);
            }
            break;
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
          for (int32_t s = next - pix0; s < npix; ++s) { /* the new pixels only (see the block's comment) */
            o[s * out_c] = tm2_store_clamped(tm2_gemm_rq(acc[4 * h + s], r, mode, zp), p->act_min, p->act_max);
          }
        }
      }
    }
  }
}

#undef TM2_GENERAL_CASE_E

/* The general loop for TM2_RQ_HIGHMUL records (every other mode runs its C loop). */
__attribute__((noinline)) static void tm2_conv_general(const tm2_conv_packed_params *p, const int8_t *input,
                                                       const int32_t *packed, void *scratch, int8_t *output) {
  tm2_conv_general_body(p, input, packed, scratch, output, 0, 0);
}

/* Entry points chosen at build time (the generated call names one: tinym2net/ops/packing.py conv_packed_entry),
 * so that the linker keeps only the loops a model uses: the general loop, the first-layer loop, and one pointwise
 * entry per Kp, each for TM2_RQ_HIGHMUL records and, with the suffix _e<E>, for TM2_RQ_HIGHMUL_E records of shift
 * E (TM2_CONV_RQ_SHIFTS). Pointwise calls of fewer than four pixels (a band's last pixels) run pixel by pixel
 * (tm2_conv_pw_few). Without the DSP extension every entry is the general loop. */
#define TM2_CONV_ENTRY(NAME) \
  void NAME(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed, void *scratch, int8_t *output)

TM2_CONV_ENTRY(tm2_conv2d_s8_packed_general) { tm2_conv_general(p, input, packed, scratch, output); }

/* The general loop for layers of output offset other than -128 (packing.conv_packed_entry): any layer, without
 * tm2_conv_general's loops for output offset -128. */
TM2_CONV_ENTRY(tm2_conv2d_s8_packed_general_signed) {
#if TM2_CONV_USE_DSP
  tm2_conv_general_body(p, input, packed, scratch, output, 0, 1);
#else
  tm2_conv_general(p, input, packed, scratch, output);
#endif
}

/* kws' 10x4 first layer: the rows4 loop for 64 output channels without sign correction (TM2_RQ_HIGHMUL records
 * with output offset -128, or TM2_RQ_HIGHMUL_E records of shift rqe) and at least four pixels; the general loop
 * otherwise. */
/* Whether the rows4 loop takes a layer of TM2_CONV_PATH_ROWS4 (rqe: the records' shift E, 0 for TM2_RQ_HIGHMUL). */
#define TM2_CONV_ROWS4_FAST(p, rqe) \
  ((p)->out_c == 64 && ((rqe) != 0 || (p)->output_offset == -128) && (p)->depth_padded == 40 && (p)->out_h * (p)->out_w >= 4)

__attribute__((always_inline)) static inline void tm2_conv_rows4(const tm2_conv_packed_params *p, const int8_t *input,
                                                                 const int32_t *packed, void *scratch, int8_t *output,
                                                                 const int32_t rqe) {
#if TM2_CONV_USE_DSP
  if (TM2_CONV_ROWS4_FAST(p, rqe)) {
    tm2_conv_rows4_fast(p, input, packed, scratch, output, rqe);
    return;
  }
  /* the _e<E> entries: the generator sends only layers the rows4 loop takes (conv_packed_entry; the dispatcher sends
   * the others to the general loop), so that they link neither the general loop nor its widening; a layer sent here
   * wrongly stops rather than computing wrong outputs */
  if (rqe != 0) __builtin_trap();
#else
  (void)rqe;
#endif
  tm2_conv_general(p, input, packed, scratch, output);
}

TM2_CONV_ENTRY(tm2_conv2d_s8_packed_rows4) { tm2_conv_rows4(p, input, packed, scratch, output, 0); }

#if TM2_CONV_USE_DSP
TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3) { tm2_conv_first_fast(p, input, packed, scratch, output, 0, 0, 0); }

#define TM2_PW_ENTRY(KP)                                            \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw##KP) {                     \
    if (p->batches * p->out_h * p->out_w >= 4) {                    \
      tm2_conv_pw_fast(p, input, packed, scratch, output, KP, 0, 0);\
    } else {                                                        \
      tm2_conv_pw_few(p, input, packed, scratch, output);           \
    }                                                               \
  }
#define TM2_PW_ENTRY_E(KP, E)                                       \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw##KP##_e##E) {              \
    if (p->batches * p->out_h * p->out_w >= 4) {                    \
      tm2_conv_pw_fast(p, input, packed, scratch, output, KP, E, 0);\
    } else {                                                        \
      tm2_conv_pw_few(p, input, packed, scratch, output);           \
    }                                                               \
  }
/* Kp KP (128, 256) with out_c 256 in blocks of three pixels (tm2_conv_pw3); calls of fewer than three pixels pixel by
 * pixel. */
#define TM2_PW3_ENTRY_E(KP, E)                                      \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw##KP##x3_e##E) {            \
    if (p->batches * p->out_h * p->out_w >= 3) {                    \
      tm2_conv_pw3(p, input, packed, scratch, output, KP, E);       \
    } else {                                                        \
      tm2_conv_pw_few(p, input, packed, scratch, output);           \
    }                                                               \
  }
#define TM2_CONV_ENTRIES_E(E)                                                                                    \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_general_e##E) { tm2_conv_general_body(p, input, packed, scratch, output, E, 0); } \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3_e##E) { tm2_conv_first_fast(p, input, packed, scratch, output, E, 0, 0); } \
  TM2_FIRST_O_ENTRY_E(8, E)                                                                                      \
  TM2_FIRST_O_ENTRY_E(16, E)                                                                                     \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3s2o8_e##E) {                                                       \
    tm2_conv_first_fast(p, input, packed, scratch, output, E, 1, 0);                                             \
  }                                                                                                              \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_rows4_e##E) { tm2_conv_rows4(p, input, packed, scratch, output, E); }          \
  TM2_PW_ENTRY_E(8, E)                                                                                           \
  TM2_PW_ENTRY_E(16, E)                                                                                          \
  TM2_PW_ENTRY_E(32, E)                                                                                          \
  TM2_PW_ENTRY_E(64, E)                                                                                          \
  TM2_PW_ENTRY_E(128, E)                                                                                         \
  TM2_PW3_ENTRY_E(128, E)                                                                                        \
  TM2_PW3_ENTRY_E(256, E)                                                                                        \
  TM2_PW_OWN_LOOPS(TM2_PWO_ENTRY_E, E)
/* First layers (TM2_CONV_PATH_FIRST3X3) into out_c OC, 8 or 16 (the out_c with a pair loop of their own): out_c a
 * constant in tm2_conv_first_fast, so that only that loop is linked; a layer of another out_c traps. */
#define TM2_FIRST_O_ENTRY_E(OC, E)                                    \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3o##OC##_e##E) {         \
    if (p->out_c != OC) __builtin_trap();                             \
    tm2_conv_first_fast(p, input, packed, scratch, output, E, 0, OC); \
  }

/* Kp KP into out_c OC (TM2_PW_OWN_LOOPS): out_c a constant in tm2_conv_pw_fast, so that only that shape's block loop
 * (and the one-pixel tails) is linked; a layer of another out_c stops here rather than computing wrong outputs. */
#define TM2_PWO_ENTRY_E(KP, OC, E)                                   \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw##KP##o##OC##_e##E) {        \
    if (p->out_c != OC) __builtin_trap();                            \
    if (p->batches * p->out_h * p->out_w >= 4) {                     \
      tm2_conv_pw_fast(p, input, packed, scratch, output, KP, E, OC);\
    } else {                                                         \
      tm2_conv_pw_few(p, input, packed, scratch, output);            \
    }                                                                \
  }

/* Kp 128 into out_c 128 of TM2_RQ_HIGHMUL records with output offset -128 (TM2_PW_BLOCKS_F128L alone; any other
 * layer traps). */
TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw128o128) {
  if (p->out_c != 128 || p->output_offset != -128) __builtin_trap();
  if (p->batches * p->out_h * p->out_w >= 4) {
    tm2_conv_pw_fast(p, input, packed, scratch, output, 128, 0, 128);
  } else {
    tm2_conv_pw_few(p, input, packed, scratch, output);
  }
}
#else
TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3) { tm2_conv_general(p, input, packed, scratch, output); }

/* The pointwise entries without the DSP extension: the general loop, expanding layers (out_c > in_c) one block of
 * four pixels a call from the last block down (each block widened before its outputs are stored, the first one to
 * three pixels last), so that they may run in place over the whole tensor as with the DSP entries
 * (tm2_conv_pw_fast). */
__attribute__((noinline)) static void tm2_conv_pw_general(const tm2_conv_packed_params *p, const int8_t *input,
                                                          const int32_t *packed, void *scratch, int8_t *output) {
  if (p->out_c <= p->in_c) {
    tm2_conv_general(p, input, packed, scratch, output);
    return;
  }
  tm2_conv_packed_params q = *p;
  q.batches = 1;
  q.in_w = q.out_w = 1;
  for (int32_t end = p->batches * p->out_h * p->out_w; end > 0; end -= 4) {
    const int32_t n = tm2_min_i32(4, end);
    q.in_h = q.out_h = n;
    tm2_conv_general(&q, input + (size_t)(end - n) * p->in_c, packed, scratch, output + (size_t)(end - n) * p->out_c);
  }
}

#define TM2_PW_ENTRY(KP) \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw##KP) { tm2_conv_pw_general(p, input, packed, scratch, output); }
#define TM2_CONV_ENTRIES_E(E)                                                                                    \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_general_e##E) { tm2_conv_general(p, input, packed, scratch, output); }     \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3_e##E) { tm2_conv_general(p, input, packed, scratch, output); }    \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3s2o8_e##E) { tm2_conv_general(p, input, packed, scratch, output); } \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3o8_e##E) { tm2_conv_general(p, input, packed, scratch, output); }   \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_first3x3o16_e##E) { tm2_conv_general(p, input, packed, scratch, output); }  \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_rows4_e##E) { tm2_conv_general(p, input, packed, scratch, output); }        \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw8_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }      \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw16_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }     \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw32_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }     \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw64_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }     \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw128_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }     \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw128x3_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }   \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw256x3_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }   \
  TM2_PW_OWN_LOOPS(TM2_PWO_ENTRY_E, E)
#define TM2_PWO_ENTRY_E(KP, OC, E) \
  TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw##KP##o##OC##_e##E) { tm2_conv_pw_general(p, input, packed, scratch, output); }
TM2_CONV_ENTRY(tm2_conv2d_s8_packed_pw128o128) { tm2_conv_pw_general(p, input, packed, scratch, output); }
#endif
TM2_PW_ENTRY(8)
TM2_PW_ENTRY(16)
TM2_PW_ENTRY(32)
TM2_PW_ENTRY(64)
TM2_PW_ENTRY(128)
TM2_CONV_RQ_SHIFTS(TM2_CONV_ENTRIES_E)
#undef TM2_CONV_ENTRIES_E
#undef TM2_PWO_ENTRY_E
#undef TM2_FIRST_O_ENTRY_E
#undef TM2_PW3_ENTRY_E
#undef TM2_PW_ENTRY_E
#undef TM2_PW_ENTRY

/* The entry of a layer's path for the records' shift suffix SUF (empty, or _e<E>; RQE: 0 or E), then return. */
#define TM2_CONV_DISPATCH(SUF, RQE)                                             \
  do {                                                                          \
    if (p->path == TM2_CONV_PATH_POINTWISE) {                                   \
      switch (p->depth_padded) {                                                \
        case 8:                                                                 \
          tm2_conv2d_s8_packed_pw8##SUF(p, input, packed, scratch, output);     \
          return;                                                               \
        case 16:                                                                \
          tm2_conv2d_s8_packed_pw16##SUF(p, input, packed, scratch, output);    \
          return;                                                               \
        case 32:                                                                \
          tm2_conv2d_s8_packed_pw32##SUF(p, input, packed, scratch, output);    \
          return;                                                               \
        case 64:                                                                \
          tm2_conv2d_s8_packed_pw64##SUF(p, input, packed, scratch, output);    \
          return;                                                               \
        case 128:                                                               \
          tm2_conv2d_s8_packed_pw128##SUF(p, input, packed, scratch, output);   \
          return;                                                               \
        default:                                                                \
          break;                                                                \
      }                                                                         \
    } else if (p->path == TM2_CONV_PATH_FIRST3X3) {                             \
      tm2_conv2d_s8_packed_first3x3##SUF(p, input, packed, scratch, output);    \
      return;                                                                   \
    } else if (p->path == TM2_CONV_PATH_ROWS4 && TM2_CONV_ROWS4_FAST(p, RQE)) {  \
      tm2_conv2d_s8_packed_rows4##SUF(p, input, packed, scratch, output);       \
      return;                                                                   \
    }                                                                           \
    tm2_conv2d_s8_packed_general##SUF(p, input, packed, scratch, output);       \
    return;                                                                     \
  } while (0)
#define TM2_CONV_DISPATCH_PWO(KP, OC, E)                                                                 \
  if (p->path == TM2_CONV_PATH_POINTWISE && p->depth_padded == KP && p->out_c == OC) {                  \
    tm2_conv2d_s8_packed_pw##KP##o##OC##_e##E(p, input, packed, scratch, output);                       \
    return;                                                                                            \
  }
#define TM2_CONV_DISPATCH_E(E)                                                                 \
  case E:                                                                                      \
    if (p->path == TM2_CONV_PATH_FIRST3X3 && p->out_c == 8 && p->stride_w == 2) {              \
      tm2_conv2d_s8_packed_first3x3s2o8_e##E(p, input, packed, scratch, output);               \
      return;                                                                                  \
    }                                                                                          \
    if (p->path == TM2_CONV_PATH_FIRST3X3 && (p->out_c == 8 || p->out_c == 16)) {              \
      if (p->out_c == 8) {                                                                     \
        tm2_conv2d_s8_packed_first3x3o8_e##E(p, input, packed, scratch, output);               \
      } else {                                                                                 \
        tm2_conv2d_s8_packed_first3x3o16_e##E(p, input, packed, scratch, output);              \
      }                                                                                        \
      return;                                                                                  \
    }                                                                                          \
    TM2_PW_OWN_LOOPS(TM2_CONV_DISPATCH_PWO, E)                                                 \
    if (tm2_conv_pw3_layer(p)) {                                                               \
      if (p->depth_padded == 128) {                                                            \
        tm2_conv2d_s8_packed_pw128x3_e##E(p, input, packed, scratch, output);                  \
      } else {                                                                                 \
        tm2_conv2d_s8_packed_pw256x3_e##E(p, input, packed, scratch, output);                  \
      }                                                                                        \
      return;                                                                                  \
    }                                                                                          \
    TM2_CONV_DISPATCH(_e##E, E);

/* Whether a layer with TM2_RQ_HIGHMUL_E records takes an entry in blocks of three pixels
 * (tm2_conv2d_s8_packed_pw<Kp>x3_e<E>): the rule of tinym2net/ops/packing.py conv_packed_entry (pointwise, Kp = in_c
 * of 128 or 256, out_c 256, the full int8 range, a pixel count that is a multiple of three and not of four). */
static int tm2_conv_pw3_layer(const tm2_conv_packed_params *p) {
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  return p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
         p->pad_w == 0 && p->in_w == p->out_w && p->in_c == p->depth_padded &&
         (p->depth_padded == 128 || p->depth_padded == 256) && p->out_c == 256 && p->act_min == -128 &&
         p->act_max == 127 && pixels % 3 == 0 && pixels % 4 != 0;
}

/* Any layer: dispatches on the path field (and, for TM2_RQ_HIGHMUL_E records, on their shift E: the third word of
 * the first record) to the entry the generated code would call (the kernel tests use it; generated code names its
 * entry directly, so that unused loops are not linked). */
TM2_CONV_ENTRY(tm2_conv2d_s8_packed) {
  if (p->rq_mode == TM2_RQ_HIGHMUL_E) {
    switch (packed[p->depth_padded + 4]) {
      TM2_CONV_RQ_SHIFTS(TM2_CONV_DISPATCH_E)
      default: /* no entry for this shift: the C loop */
        tm2_conv_general(p, input, packed, scratch, output);
        return;
    }
  }
  if (p->path == TM2_CONV_PATH_POINTWISE && p->depth_padded == 128 && p->out_c == 128 && p->output_offset == -128) {
    tm2_conv2d_s8_packed_pw128o128(p, input, packed, scratch, output);
    return;
  }
  if (p->path == TM2_CONV_PATH_GENERAL && p->output_offset != -128) {
    tm2_conv2d_s8_packed_general_signed(p, input, packed, scratch, output);
    return;
  }
  TM2_CONV_DISPATCH(, 0);
}
#undef TM2_CONV_DISPATCH_PWO
#undef TM2_CONV_DISPATCH_E
#undef TM2_CONV_DISPATCH
#undef TM2_CONV_ENTRY
