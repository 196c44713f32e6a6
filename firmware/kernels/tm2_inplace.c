/* tinym2net in-place convolutions (see tm2_inplace.h). Hand-written for tinym2net. C99, no heap. */
#include "tm2_inplace.h"

#include <stddef.h>
#include <string.h>

#include "tm2_dw_s2_dsp.h"
#include "tm2_fixedpoint.h"
#include "tm2_requant.h"

/* ------------------------------------------------------------------------------------ row bands */

/* First and one-past-last output row of band k in processing order. */
static int32_t tm2_ip_band_start(const tm2_inplace_rows *g, int32_t k) {
  if (g->reverse) return tm2_max_i32(0, g->out_h - (k + 1) * g->band);
  return k * g->band;
}

static int32_t tm2_ip_band_end(const tm2_inplace_rows *g, int32_t k) {
  if (g->reverse) return g->out_h - k * g->band;
  return tm2_min_i32(g->out_h, (k + 1) * g->band);
}

/* Input rows [*lo, *hi] that bands k, k+1, ... still read (conservatively: every row between the first
 * and the last one they read). Empty (lo > hi) when k is past the last band. */
static void tm2_ip_live_rows(const tm2_inplace_rows *g, const tm2_inplace_iter *it, int32_t k, int32_t *lo,
                             int32_t *hi) {
  if (k >= it->bands) {
    *lo = 1;
    *hi = 0;
    return;
  }
  if (g->reverse) {
    *lo = tm2_max_i32(0, -g->pad);
    *hi = tm2_min_i32(g->in_h - 1, (tm2_ip_band_end(g, k) - 1) * g->stride - g->pad + g->span - 1);
  } else {
    *lo = tm2_max_i32(0, tm2_ip_band_start(g, k) * g->stride - g->pad);
    *hi = tm2_min_i32(g->in_h - 1, (g->out_h - 1) * g->stride - g->pad + g->span - 1);
  }
}

/* n bytes from src to dst (no overlap). On Thumb-2 (no TM2_PORTABLE), word-aligned runs go 32 bytes per
 * LDM / STM pair; the rest, and unaligned runs, by memcpy. */
static inline void tm2_ip_copy(int8_t *dst, const int8_t *src, int32_t n) {
#if defined(__thumb2__) && !defined(TM2_PORTABLE)
  if (n >= 32 && (((uint32_t)(uintptr_t)dst | (uint32_t)(uintptr_t)src) & 3u) == 0) {
    int32_t left = n - 32;
    __asm__ volatile(
        "1:\n\t"
        "ldmia %[s]!, {r3, r4, r5, r6, r8, r9, r10, r12}\n\t"
        "stmia %[d]!, {r3, r4, r5, r6, r8, r9, r10, r12}\n\t"
        "subs %[l], %[l], #32\n\t"
        "bge 1b\n"
        : [s] "+r"(src), [d] "+r"(dst), [l] "+r"(left)
        :
        : "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r12", "cc", "memory");
    n = left + 32;
  }
#endif
  if (n > 0) memcpy(dst, src, (size_t)n);
}

/* Stores finished rows, oldest first, while their bytes hold no input row that band k onwards reads.
 * Bottom-up: the pending rows [pend_lo, pend_hi) are stored from the top down; the storable ones are those
 * starting at or past the end of the live input rows (which start at its first row, the same for every
 * band), and all of them once one ends at or before the live start: found in closed form. The rows of one
 * band are contiguous in the ring and in the tensor: one copy per band. */
static void tm2_ip_commit_reverse(const tm2_inplace_rows *g, tm2_inplace_iter *it, int32_t k) {
  const int32_t pend_lo = it->pend_lo;
  int32_t top = it->pend_hi;
  if (pend_lo >= top) return;
  const int32_t out_row = g->out_row;
  int32_t keep = pend_lo; /* rows [pend_lo, keep) stay pending */
  if (k < it->bands) {
    int32_t lo, hi;
    tm2_ip_live_rows(g, it, k, &lo, &hi);
    if (lo <= hi) {
      int32_t r1 = ((hi + 1) * g->in_row - 1) / out_row; /* last row starting before the live end */
      if (r1 > top - 1) r1 = top - 1;
      if (r1 >= pend_lo && (r1 + 1) * out_row > lo * g->in_row) keep = r1 + 1;
    }
  }
  while (top > keep) {
    const int32_t q = top - 1;
    const int32_t kb = (g->out_h - 1 - q) / g->band;
    const int32_t start = tm2_ip_band_start(g, kb);
    const int32_t first = tm2_max_i32(keep, start);
    tm2_ip_copy(it->data + (size_t)first * out_row,
                it->ring + ((size_t)(kb % g->ring_bands) * g->band + (first - start)) * out_row,
                (top - first) * out_row);
    top = first;
  }
  it->pend_hi = keep;
}

/* The same, top-down: the pending rows [pend_lo, pend_hi) ascend in the tensor, and in the ring modulo its
 * ring_bands * band rows (bands start at multiples of band), so the storable ones are a prefix found in
 * closed form: rows ending at or before the live input's start, and all of them once one lies past its end
 * (the live rows run to the input's last row read, the same for every band). */
static void tm2_ip_commit_forward(const tm2_inplace_rows *g, tm2_inplace_iter *it, int32_t k) {
  const int32_t q = it->pend_lo, e = it->pend_hi;
  if (q >= e) return;
  const int32_t out_row = g->out_row;
  int32_t stop = e;
  if (k < it->bands) {
    const int32_t lo = tm2_max_i32(0, k * g->band * g->stride - g->pad);
    const int32_t hi = tm2_min_i32(g->in_h - 1, (g->out_h - 1) * g->stride - g->pad + g->span - 1);
    if (lo <= hi) {
      int32_t r1 = lo * g->in_row / out_row; /* first row ending past the live start */
      if (r1 < q) r1 = q;
      if (r1 < e && r1 * out_row < (hi + 1) * g->in_row) stop = r1;
    }
  }
  if (stop == q) return;
  const int32_t ring_rows = g->ring_bands * g->band;
  const int32_t s = q % ring_rows;
  const int32_t n1 = tm2_min_i32(stop - q, ring_rows - s);
  int8_t *dst = it->data + (size_t)q * out_row;
  tm2_ip_copy(dst, it->ring + (size_t)s * out_row, n1 * out_row);
  if (n1 < stop - q) tm2_ip_copy(dst + (size_t)n1 * out_row, it->ring, (stop - q - n1) * out_row);
  it->pend_lo = stop;
}

static void tm2_ip_commit(const tm2_inplace_rows *g, tm2_inplace_iter *it, int32_t k) {
  if (g->reverse) {
    tm2_ip_commit_reverse(g, it, k);
  } else {
    tm2_ip_commit_forward(g, it, k);
  }
}

void tm2_inplace_rows_begin(const tm2_inplace_rows *g, tm2_inplace_iter *it, int8_t *data, int8_t *ring) {
  it->k = 0;
  it->bands = (g->out_h + g->band - 1) / g->band;
  it->pend_lo = it->pend_hi = g->reverse ? g->out_h : 0;
  it->data = data;
  it->ring = ring;
}

int tm2_inplace_rows_next(const tm2_inplace_rows *g, tm2_inplace_iter *it, tm2_inplace_band *band) {
  tm2_ip_commit(g, it, it->k);
  if (it->k >= it->bands) return 0;
  const int32_t start = tm2_ip_band_start(g, it->k);
  const int32_t end = tm2_ip_band_end(g, it->k);
  const int32_t first = start * g->stride - g->pad;             /* may lie in the top padding */
  const int32_t last = (end - 1) * g->stride - g->pad + g->span - 1; /* may lie in the bottom padding */
  const int32_t a = tm2_max_i32(0, first);
  const int32_t b = tm2_min_i32(g->in_h - 1, last);
  band->input = it->data + (size_t)a * g->in_row;
  band->in_h = tm2_max_i32(0, b - a + 1);
  band->pad_h = a - first;
  band->out_h = end - start;
  if (it->pend_lo == it->pend_hi) {
    /* nothing pending and the band's output clear of every input row this band and the later ones read:
     * the kernel writes it in its final place (no ring, no copy; the rows never become pending) */
    /* the live rows (tm2_ip_live_rows): from this band's first row down, or from the top to its last row */
    const int32_t lo = g->reverse ? tm2_max_i32(0, -g->pad) : a;
    const int32_t hi = g->reverse ? b : tm2_min_i32(g->in_h - 1, (g->out_h - 1) * g->stride - g->pad + g->span - 1);
    const int32_t o0 = start * g->out_row, o1 = end * g->out_row;
    if (lo > hi || o1 <= lo * g->in_row || (hi + 1) * g->in_row <= o0) {
      band->output = it->data + o0;
      ++it->k;
      return 1;
    }
  }
  band->output = it->ring + (size_t)(it->k % g->ring_bands) * g->band * g->out_row;
  if (it->pend_lo == it->pend_hi) {
    it->pend_lo = start;
    it->pend_hi = end;
  } else if (g->reverse) {
    it->pend_lo = start;
  } else {
    it->pend_hi = end;
  }
  ++it->k;
  return 1;
}

/* ------------------------------------------------------------------- depthwise 3x3, direct form */

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#define TM2_IP_USE_DSP 1
#include <arm_acle.h>
#else
#define TM2_IP_USE_DSP 0
#endif

/* The nine weights of channel c (packed words (w0 | w1 << 16), (w1 | w2 << 16) per filter row), zero for
 * filter rows outside the input. Returns their sum. */
static inline int32_t tm2_dw_unpack(const int32_t *words, const int valid[3], int32_t w[9]) {
  int32_t sum = 0;
  for (int32_t fy = 0; fy < 3; ++fy) {
    const uint32_t lo = (uint32_t)words[2 * fy], hi = (uint32_t)words[2 * fy + 1];
    w[3 * fy + 0] = valid[fy] ? (int16_t)(lo & 0xFFFFu) : 0;
    w[3 * fy + 1] = valid[fy] ? (int16_t)(lo >> 16) : 0;
    w[3 * fy + 2] = valid[fy] ? (int16_t)(hi >> 16) : 0;
    sum += w[3 * fy] + w[3 * fy + 1] + w[3 * fy + 2];
  }
  return sum;
}

/* acc plus the in-bounds taps of an edge column starting at ix0; rows[] already point at the channel. */
static inline int32_t tm2_dw_edge(const int8_t *const rows[3], const int32_t w[9], int32_t ix0, int32_t in_w,
                                  int32_t ch, int32_t off, int32_t acc) {
  for (int32_t fx = 0; fx < 3; ++fx) {
    const int32_t ix = ix0 + fx;
    if (ix < 0 || ix >= in_w) continue;
    const size_t x = (size_t)ix * ch;
    acc += w[fx] * (rows[0][x] + off) + w[3 + fx] * (rows[1][x] + off) + w[6 + fx] * (rows[2][x] + off);
  }
  return acc;
}

static inline int8_t tm2_dw_store(int32_t acc, const tm2_rq *q, const tm2_dw3x3_packed_params *p) {
  return (int8_t)tm2_clamp_i32(tm2_rq_apply(acc, q, p->rq_mode, p->output_offset), p->act_min, p->act_max);
}

#if TM2_IP_USE_DSP
/* Lanes (w[lo channel], w[hi channel]) of the three taps of filter row fy, from the packed words
 * (w0 | w1 << 16), (w1 | w2 << 16) of each channel. */
static inline void tm2_dw_lanes(const int32_t *lo_ch, const int32_t *hi_ch, int32_t fy, int32_t out[3]) {
  const uint32_t a = (uint32_t)lo_ch[2 * fy], b = (uint32_t)lo_ch[2 * fy + 1];
  const uint32_t c = (uint32_t)hi_ch[2 * fy], d = (uint32_t)hi_ch[2 * fy + 1];
  out[0] = (int32_t)((a & 0xFFFFu) | (c << 16));
  out[1] = (int32_t)((c & 0xFFFF0000u) | (a >> 16));
  out[2] = (int32_t)((d & 0xFFFF0000u) | (b >> 16));
}

/* The interleaved weight lanes of channels c .. c+3 (wc: their packed words) for shifts v = -1, 0, +1 (see
 * tm2_dw_quad_row), zero for filter rows outside the input; doubled (SADD16) when `twice`. */
static inline __attribute__((always_inline)) void tm2_dw_weight_lanes(const int32_t *wc, const int valid[3],
                                                                       int twice, int32_t wv[3][18]) {
  for (int32_t fy = 0; fy < 3; ++fy) {
    int32_t we[3] = {0, 0, 0}, wo[3] = {0, 0, 0};
    if (valid[fy]) {
      tm2_dw_lanes(wc, wc + 12, fy, we);
      tm2_dw_lanes(wc + 6, wc + 18, fy, wo);
      if (twice) {
        we[0] = (int32_t)__sadd16((uint32_t)we[0], (uint32_t)we[0]);
        we[1] = (int32_t)__sadd16((uint32_t)we[1], (uint32_t)we[1]);
        we[2] = (int32_t)__sadd16((uint32_t)we[2], (uint32_t)we[2]);
        wo[0] = (int32_t)__sadd16((uint32_t)wo[0], (uint32_t)wo[0]);
        wo[1] = (int32_t)__sadd16((uint32_t)wo[1], (uint32_t)wo[1]);
        wo[2] = (int32_t)__sadd16((uint32_t)wo[2], (uint32_t)wo[2]);
      }
    }
    int32_t *t0 = &wv[0][6 * fy], *t1 = &wv[1][6 * fy], *t2 = &wv[2][6 * fy];
    t1[0] = we[0], t1[1] = wo[0], t1[2] = we[1], t1[3] = wo[1], t1[4] = we[2], t1[5] = wo[2];
    t0[0] = 0, t0[1] = 0, t0[2] = we[0], t0[3] = wo[0], t0[4] = we[1], t0[5] = wo[1];
    t2[0] = we[1], t2[1] = wo[1], t2[2] = we[2], t2[3] = wo[2], t2[4] = 0, t2[5] = 0;
  }
}

/* One tap of an interior pixel in assembly: the word of channels c .. c+3 at R + OFF (OFF: #0, the column
 * stride register ch, or ch, lsl #1), its lanes (c, c+2) and (c+1, c+3) with the input offset added
 * (SXTAB16), against the weight lanes (we, wo) of tap T in the interleaved buffer at wp. */
#define TM2_DWD_TAP(R, OFF, T)                      \
  "ldr %[x], [%[" R "], " OFF "]\n\t"              \
  "ldr %[we], [%[wp], #(8 * " T ")]\n\t"           \
  "ldr %[wo], [%[wp], #(8 * " T " + 4)]\n\t"       \
  "sxtab16 %[e], %[off2], %[x]\n\t"                \
  "sxtab16 %[x], %[off2], %[x], ror #8\n\t"        \
  "smlabb %[a0], %[e], %[we], %[a0]\n\t"           \
  "smlatt %[a2], %[e], %[we], %[a2]\n\t"           \
  "smlabb %[a1], %[x], %[wo], %[a1]\n\t"           \
  "smlatt %[a3], %[x], %[wo], %[a3]\n\t"
#define TM2_DWD_ROW(R, T0, T1, T2) \
  TM2_DWD_TAP(R, "#0", T0) TM2_DWD_TAP(R, "%[ch]", T1) TM2_DWD_TAP(R, "%[ch], lsl #1", T2)

/* TM2_RQ_HIGHMUL of accumulator A (already doubled: weights and biases are), channel K of the quad (m, hz, e
 * at words 4 + 3K of the record, whose pointer x holds, loaded once by TM2_DWD_RQP): saturated int8 in A. The
 * low form has no sign correction; the signed one takes wo (hz, consumed) as its temporary. */
#define TM2_DWD_RQP "ldr %[x], %[rpm]\n\t"
#define TM2_DWD_RQ_LOW(A, K)                            \
  "ldr %[we], [%[x], #(16 + 12 * " K ")]\n\t"           \
  "ldr %[wo], [%[x], #(20 + 12 * " K ")]\n\t"           \
  "ldr %[e], [%[x], #(24 + 12 * " K ")]\n\t"            \
  "smmlar %[" A "], %[" A "], %[we], %[wo]\n\t"         \
  "asr %[" A "], %[" A "], %[e]\n\t"                    \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_DWD_RQ_SIGNED(A, K)                         \
  "ldr %[we], [%[x], #(16 + 12 * " K ")]\n\t"           \
  "ldr %[wo], [%[x], #(20 + 12 * " K ")]\n\t"           \
  "ldr %[e], [%[x], #(24 + 12 * " K ")]\n\t"            \
  "smmlar %[wo], %[" A "], %[we], %[wo]\n\t"            \
  "add %[" A "], %[wo], %[" A "], asr #31\n\t"          \
  "asr %[" A "], %[" A "], %[e]\n\t"                    \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* `n` (>= 1) interior pixels of one output row, four channels: biases from the record, nine taps, the
 * requantisation of the four sums and four byte stores at o (kept in memory, advanced by ch per pixel);
 * the row pointers advance by the stride (STEP: ch or ch, lsl #1). */
#define TM2_DWD_RUN(RQ, STEP)                                                                          \
  __asm__ volatile(                                                                                    \
      "1:\n\t"                                                                                         \
      "ldr %[e], %[rpm]\n\t"                                                                           \
      "ldr %[a0], [%[e]]\n\t"                                                                          \
      "ldr %[a1], [%[e], #4]\n\t"                                                                      \
      "ldr %[a2], [%[e], #8]\n\t"                                                                      \
      "ldr %[a3], [%[e], #12]\n\t" TM2_DWD_ROW("r0", "0", "1", "2") TM2_DWD_ROW("r1", "3", "4", "5")   \
      TM2_DWD_ROW("r2", "6", "7", "8") TM2_DWD_RQP RQ("a0", "0") RQ("a1", "1") RQ("a2", "2") RQ("a3", "3") \
      "ldr %[e], %[om]\n\t"                                                                            \
      "strb %[a0], [%[e]]\n\t"                                                                         \
      "strb %[a1], [%[e], #1]\n\t"                                                                     \
      "strb %[a2], [%[e], #2]\n\t"                                                                     \
      "strb %[a3], [%[e], #3]\n\t"                                                                     \
      "add %[e], %[e], %[ch]\n\t"                                                                      \
      "str %[e], %[om]\n\t"                                                                            \
      "add %[r0], %[r0], " STEP "\n\t"                                                                 \
      "add %[r1], %[r1], " STEP "\n\t"                                                                 \
      "add %[r2], %[r2], " STEP "\n\t"                                                                 \
      "ldr %[e], %[nm]\n\t"                                                                            \
      "subs %[e], %[e], #1\n\t"                                                                        \
      "str %[e], %[nm]\n\t"                                                                            \
      "bne 1b\n\t"                                                                                     \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "=&r"(x), [e] "=&r"(e),     \
        [we] "=&r"(we), [wo] "=&r"(wo), [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [om] "+m"(o),      \
        [nm] "+m"(n)                                                                                    \
      : [off2] "r"(off2), [ch] "r"(ch), [wp] "r"(wbuf), [rpm] "m"(rp)                                   \
      : "cc", "memory")

/* A run of n pixels (taps inside or shifted weights, rows outside the input zero) with TM2_DWD_RUN. Not
 * inlined: the assembly needs every register, so its memory operands must be stack slots of its own frame. */
__attribute__((noinline)) static void tm2_dw_quad_run(const int8_t *r0, const int8_t *r1, const int8_t *r2, int32_t n, int32_t ch,
                            int32_t stride, uint32_t off2, const int32_t *wbuf, const int32_t *rp, int low,
                            int8_t *o) {
  uint32_t a0, a1, a2, a3, x, e, we, wo;
  if (low) {
    if (stride == 1) {
      TM2_DWD_RUN(TM2_DWD_RQ_LOW, "%[ch]");
    } else {
      TM2_DWD_RUN(TM2_DWD_RQ_LOW, "%[ch], lsl #1");
    }
  } else {
    if (stride == 1) {
      TM2_DWD_RUN(TM2_DWD_RQ_SIGNED, "%[ch]");
    } else {
      TM2_DWD_RUN(TM2_DWD_RQ_SIGNED, "%[ch], lsl #1");
    }
  }
}

/* One tap of four channels in C: one word load gives channels c .. c+3, SXTAB16 splits it into the int16
 * pairs (c, c+2) and (c+1, c+3) with the input offset added to each lane (|x + off| <= 255), and SMLABB /
 * SMLATT add each lane's product to its own channel's sum. */
#define TM2_DW_TAP(src, t)                                               \
  do {                                                                   \
    uint32_t v_;                                                         \
    memcpy(&v_, (src), 4);                                               \
    const int32_t xe_ = (int32_t)__sxtab16(off2, v_);                    \
    const int32_t xo_ = (int32_t)__sxtab16(off2, (v_ >> 8) | (v_ << 24)); \
    a0 = __smlabb(xe_, wbuf[2 * (t)], a0);                               \
    a2 = __smlatt(xe_, wbuf[2 * (t)], a2);                               \
    a1 = __smlabb(xo_, wbuf[2 * (t) + 1], a1);                           \
    a3 = __smlatt(xo_, wbuf[2 * (t) + 1], a3);                           \
  } while (0)

/* Channels c .. c+3 of one output row with SIMD: sum over in-bounds taps of w * (x + off), as TFLite.
 * Weight words hold the same lanes as the taps, (w[c], w[c+2]) and (w[c+1], w[c+3]), interleaved per tap;
 * filter rows outside the input have zero weights (their row pointer is a row inside).
 * With TM2_RQ_HIGHMUL and the full int8 range every pixel goes through TM2_DWD_RUN: a pixel whose taps
 * reach one column past either edge reads the three columns from b = clamp(ix0, 0, in_w - 3) instead,
 * with the weights shifted by v = b - ix0 (-1 or +1; the missing column's weight is 0). */
static void tm2_dw_quad_row(const tm2_dw3x3_packed_params *p, const int8_t *const rows[3], const int valid[3],
                            const int32_t *weights, const int32_t *bias, const tm2_rq *rq, int32_t c,
                            int8_t *out_row) {
  const int32_t ch = p->channels, s = p->stride, in_w = p->in_w;
  const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) | ((uint32_t)p->input_offset << 16);
  const int32_t *wc = weights + (size_t)c * 6;
  int32_t wv[3][18]; /* shift v = -1, 0, +1; per tap t = 3 fy + slot: (w[c], w[c+2]) then (w[c+1], w[c+3]) */
  const int fast = p->rq_mode == TM2_RQ_HIGHMUL && p->act_min == -128 && p->act_max == 127 && in_w >= 3;
  tm2_dw_weight_lanes(wc, valid, fast, wv); /* the assembly takes weights and biases doubled */
  const int32_t *wbuf = wv[1];
  const int32_t b0 = bias != NULL ? bias[c] : 0, b1 = bias != NULL ? bias[c + 1] : 0;
  const int32_t b2 = bias != NULL ? bias[c + 2] : 0, b3 = bias != NULL ? bias[c + 3] : 0;
  const int8_t *r0 = rows[0] + c, *r1 = rows[1] + c, *r2 = rows[2] + c;
  int8_t *o = out_row + c;
  if (fast) {
    int32_t rec[16]; /* biases (doubled), then (m, hz, e) of each channel */
    rec[0] = (int32_t)((uint32_t)b0 * 2u), rec[1] = (int32_t)((uint32_t)b1 * 2u);
    rec[2] = (int32_t)((uint32_t)b2 * 2u), rec[3] = (int32_t)((uint32_t)b3 * 2u);
    for (int32_t k = 0; k < 4; ++k) {
      rec[4 + 3 * k] = rq[c + k].mult, rec[5 + 3 * k] = rq[c + k].hi, rec[6 + 3 * k] = rq[c + k].sh;
    }
    const int low = p->output_offset == -128;
    for (int32_t ox = 0; ox < p->out_w;) {
      const int32_t ix0 = ox * s - p->pad_w;
      const int32_t bcol = tm2_min_i32(tm2_max_i32(ix0, 0), in_w - 3);
      const int32_t v = bcol - ix0;
      if (v < -1 || v > 1) break; /* not reached for SAME / VALID 3x3 (C below) */
      /* interior: the run of pixels with every tap inside (ix0 + (n - 1) s + 2 < in_w); an edge: one */
      const int32_t n = v == 0 ? tm2_min_i32(p->out_w - ox, (in_w - 3 - ix0) / s + 1) : 1;
      const size_t x = (size_t)bcol * ch;
      tm2_dw_quad_run(r0 + x, r1 + x, r2 + x, n, ch, s, off2, wv[v + 1], rec, low, o);
      ox += n;
      o += (size_t)n * ch;
    }
    if (o == out_row + c + (size_t)p->out_w * ch) return;
    tm2_dw_weight_lanes(wc, valid, 0, wv); /* the plain C below: undoubled */
  }
  const size_t c1 = (size_t)ch, c2 = 2 * (size_t)ch;
  for (int32_t ox = (int32_t)((o - (out_row + c)) / ch); ox < p->out_w; ++ox, o += ch) {
    const int32_t ix0 = ox * s - p->pad_w;
    int32_t a0 = b0, a1 = b1, a2 = b2, a3 = b3;
    if (ix0 >= 0 && ix0 + 2 < in_w) {
      const size_t x = (size_t)ix0 * ch;
      TM2_DW_TAP(r0 + x, 0);
      TM2_DW_TAP(r0 + x + c1, 1);
      TM2_DW_TAP(r0 + x + c2, 2);
      TM2_DW_TAP(r1 + x, 3);
      TM2_DW_TAP(r1 + x + c1, 4);
      TM2_DW_TAP(r1 + x + c2, 5);
      TM2_DW_TAP(r2 + x, 6);
      TM2_DW_TAP(r2 + x + c1, 7);
      TM2_DW_TAP(r2 + x + c2, 8);
    } else {
      const int32_t fx0 = tm2_max_i32(0, -ix0), fx1 = tm2_min_i32(3, in_w - ix0);
      for (int32_t fx = fx0; fx < fx1; ++fx) {
        const size_t x = (size_t)(ix0 + fx) * ch;
        TM2_DW_TAP(r0 + x, fx);
        TM2_DW_TAP(r1 + x, 3 + fx);
        TM2_DW_TAP(r2 + x, 6 + fx);
      }
    }
    o[0] = tm2_dw_store(a0, &rq[c], p);
    o[1] = tm2_dw_store(a1, &rq[c + 1], p);
    o[2] = tm2_dw_store(a2, &rq[c + 2], p);
    o[3] = tm2_dw_store(a3, &rq[c + 3], p);
  }
}
#undef TM2_DW_TAP
#endif

/* Loops: output row, channel, output column. Per channel and row the nine weights are unpacked once; a
 * filter row outside the input gets zero weights and the pointer of a row inside it, so interior columns
 * always take nine products. They use sum w * (x + off) = sum w * x + off * sum w (exact in int32, sum over
 * the rows inside the input); edge columns add their in-bounds taps one by one. With the DSP extension,
 * channels go four at a time (tm2_dw_quad_row) when their count is a multiple of four. */
void tm2_depthwise3x3_s8_direct(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, int8_t *output) {
  const int32_t ch = p->channels, s = p->stride, off = p->input_offset;
  const int32_t in_h = p->in_h, in_w = p->in_w, out_h = p->out_h, out_w = p->out_w, pad_w = p->pad_w;
  const size_t in_row = (size_t)in_w * ch;
#if TM2_IP_USE_DSP
  if (TM2_DW_S2_APPLIES(p)) { /* stride 2: the pixel pairs of tm2_dw_s2_dsp.c */
    tm2_depthwise3x3_s8_s2(p, input, weights, bias, rq, output);
    return;
  }
#endif
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_h * in_row;
    int8_t *out_b = output + (size_t)b * out_h * out_w * ch;
    for (int32_t oy = 0; oy < out_h; ++oy) {
      const int32_t iy0 = oy * s - p->pad_h;
      int valid[3];
      const int8_t *rows[3];
      int32_t any = -1;
      for (int32_t fy = 0; fy < 3; ++fy) {
        valid[fy] = iy0 + fy >= 0 && iy0 + fy < in_h;
        if (valid[fy] && any < 0) any = iy0 + fy;
      }
      if (any < 0) any = 0; /* no row inside: every weight is zero below (not reached by TFLite shapes) */
      for (int32_t fy = 0; fy < 3; ++fy) rows[fy] = in_b + (size_t)(valid[fy] ? iy0 + fy : any) * in_row;
      int8_t *out_row = out_b + (size_t)oy * out_w * ch;
      int32_t c = 0;
#if TM2_IP_USE_DSP
      if ((ch & 3) == 0) {
        for (; c < ch; c += 4) tm2_dw_quad_row(p, rows, valid, weights, bias, rq, c, out_row);
      }
#endif
      for (; c < ch; ++c) {
        int32_t w[9];
        const int32_t sum = tm2_dw_unpack(weights + (size_t)c * 6, valid, w);
        const int32_t bc = bias != NULL ? bias[c] : 0;
        const int32_t base = bc + off * sum;
        const int8_t *const rc[3] = {rows[0] + c, rows[1] + c, rows[2] + c};
        const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
        const tm2_rq *q = &rq[c];
        int8_t *o = out_row + c;
        for (int32_t ox = 0; ox < out_w; ++ox, o += ch) {
          const int32_t ix0 = ox * s - pad_w;
          int32_t acc;
          if (ix0 >= 0 && ix0 + 2 < in_w) {
            const size_t x = (size_t)ix0 * ch;
            const int8_t *r0 = rc[0] + x, *r1 = rc[1] + x, *r2 = rc[2] + x;
            acc = base + w0 * r0[0] + w1 * r0[ch] + w2 * r0[2 * ch] + w3 * r1[0] + w4 * r1[ch] + w5 * r1[2 * ch] +
                  w6 * r2[0] + w7 * r2[ch] + w8 * r2[2 * ch];
          } else {
            acc = tm2_dw_edge(rc, w, ix0, in_w, ch, off, bc);
          }
          *o = tm2_dw_store(acc, q, p);
        }
      }
    }
  }
}
