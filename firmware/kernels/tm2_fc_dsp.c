/* tinym2net int8 FULLY_CONNECTED on packed weights (see tm2_fc_dsp.h). Hand-written, C99, no heap. */
/* FULLY_CONNECTED tables are never TM2_RQ_HIGHMUL (tinym2net/ops/packing.py, requant_table). */
#define TM2_RQ_NO_HIGHMUL 1
#include "tm2_fc_dsp.h"

#include <stddef.h>
#include <string.h>

#include "tm2_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#define TM2_FC_USE_DSP 1
#include <arm_acle.h>
#else
#define TM2_FC_USE_DSP 0
#endif

/* Position of input element d in the widened row: bits 0 and 1 swapped (d0, d2, d1, d3 per group). */
static inline int32_t tm2_fc_pos(int32_t d) { return (d & ~3) | ((d & 1) << 1) | ((d >> 1) & 1); }

/* Widens one input row into `row` (int16, Kp elements, positions as above). */
static void tm2_fc_widen(const tm2_fc_packed_params *p, const int8_t *x, int16_t *row) {
  const int32_t depth = p->accum_depth;
  const int32_t off = p->input_offset;
  int32_t d = 0;
#if TM2_FC_USE_DSP
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  uint32_t *dst = (uint32_t *)row;
  for (; d + 4 <= depth; d += 4) {
    uint32_t w, odd;
    memcpy(&w, x + d, 4);
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(odd) : "r"(off2), "r"(w));
    dst[0] = __sxtab16(off2, w); /* elements d, d+2 */
    dst[1] = odd;                /* elements d+1, d+3 */
    dst += 2;
  }
#endif
  for (; d < depth; ++d) row[tm2_fc_pos(d)] = (int16_t)(x[d] + off);
  for (; d < p->depth_padded; ++d) row[tm2_fc_pos(d)] = 0;
}

#if TM2_FC_USE_DSP
/* Two position pairs (x0, x1) against four rows: 16 MACs. */
#define TM2_FC_STEP                          \
  "ldr %[x0], [%[px]], #4\n\t"               \
  "ldr %[x1], [%[px]], #4\n\t"               \
  "ldr %[wa], [%[pw]], #4\n\t"               \
  "ldr %[wb], [%[pw]], #4\n\t"               \
  "ldr %[wc], [%[pw]], #4\n\t"               \
  "ldr %[wd], [%[pw]], #4\n\t"               \
  "sxtb16 %[t], %[wa], ror #8\n\t"           \
  "sxtb16 %[wa], %[wa]\n\t"                  \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"     \
  "smlad %[a1], %[x0], %[t], %[a1]\n\t"      \
  "sxtb16 %[t], %[wb], ror #8\n\t"           \
  "sxtb16 %[wb], %[wb]\n\t"                  \
  "smlad %[a2], %[x0], %[wb], %[a2]\n\t"     \
  "smlad %[a3], %[x0], %[t], %[a3]\n\t"      \
  "sxtb16 %[t], %[wc], ror #8\n\t"           \
  "sxtb16 %[wc], %[wc]\n\t"                  \
  "smlad %[a0], %[x1], %[wc], %[a0]\n\t"     \
  "smlad %[a1], %[x1], %[t], %[a1]\n\t"      \
  "sxtb16 %[t], %[wd], ror #8\n\t"           \
  "sxtb16 %[wd], %[wd]\n\t"                  \
  "smlad %[a2], %[x1], %[wd], %[a2]\n\t"     \
  "smlad %[a3], %[x1], %[t], %[a3]\n\t"

/* Requantisation of accumulator A in place, fast double rounding: m in wa, Khi in wb, sh in wc, the
 * output offset in px; lo / hi in x0 / x1. */
#define TM2_FC_RQ_DOUBLE(A)                    \
  "and %[x0], %[" A "], #0x80000000\n\t"      \
  "orr %[x0], %[x0], #0x40000000\n\t"         \
  "add %[x1], %[wb], %[" A "], asr #31\n\t"   \
  "smlal %[x0], %[x1], %[" A "], %[wa]\n\t"   \
  "asr %[" A "], %[x1], %[wc]\n\t"            \
  "add %[" A "], %[" A "], %[px]\n\t"         \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* The same for the fast single rounding: K (output offset included) in wb:wd (high:low). */
#define TM2_FC_RQ_SINGLE(A)                    \
  "mov %[x1], %[wb]\n\t"                      \
  "mov %[x0], %[wd]\n\t"                      \
  "smlal %[x0], %[x1], %[" A "], %[wa]\n\t"   \
  "asr %[" A "], %[x1], %[wc]\n\t"            \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* Loads the tm2_rq at t into wa (m), wb (Khi), wd (lo), wc (sh); t advances to the next entry. */
#define TM2_FC_Q "ldr %[wa], [%[t]], #16\n\t" "ldr %[wb], [%[t], #-12]\n\t" "ldr %[wd], [%[t], #-8]\n\t" \
                 "ldr %[wc], [%[t], #-4]\n\t"

/* Requantisation of the four accumulators: per channel (one entry each) or per tensor (one entry). */
#define TM2_FC_RQ4_CHANNEL(RQ) TM2_FC_Q RQ("a0") TM2_FC_Q RQ("a1") TM2_FC_Q RQ("a2") TM2_FC_Q RQ("a3")
#define TM2_FC_RQ4_TENSOR(RQ) TM2_FC_Q "sub %[t], %[t], #16\n\t" RQ("a0") RQ("a1") RQ("a2") RQ("a3")

/* Every full group of four rows in one loop: accumulators from the bias, the dot products, the
 * requantisation RQ and four byte stores. Loop state lives in memory operands (stack slots). */
#define TM2_FC_GROUPS(RQ4)                                                                                \
  __asm__ volatile(                                                                                       \
      "0:\n\t"                                                                                            \
      "ldr %[t], %[bm]\n\t"                                                                               \
      "ldr %[a0], [%[t]]\n\t"                                                                             \
      "ldr %[a1], [%[t], #4]\n\t"                                                                         \
      "ldr %[a2], [%[t], #8]\n\t"                                                                         \
      "ldr %[a3], [%[t], #12]\n\t"                                                                        \
      "ldr %[x0], %[bstep]\n\t"                                                                           \
      "add %[t], %[t], %[x0]\n\t"                                                                         \
      "str %[t], %[bm]\n\t"                                                                               \
      "ldr %[px], %[rowm]\n\t"                                                                            \
      "ldr %[x0], %[kp4m]\n\t"                                                                            \
      "add %[end], %[pw], %[x0]\n\t"                                                                      \
      /* kp / 8 units of two steps; the body holds four: enter so that the remainder runs first. */       \
      "ands %[x0], %[x0], #96\n\t"                                                                        \
      "beq 1f\n\t"                                                                                        \
      "cmp %[x0], #64\n\t"                                                                                \
      "beq 3f\n\t"                                                                                        \
      "bhi 2f\n\t"                                                                                        \
      "b 4f\n"                                                                                            \
      "1:\n\t" TM2_FC_STEP TM2_FC_STEP                                                                    \
      "2:\n\t" TM2_FC_STEP TM2_FC_STEP                                                                    \
      "3:\n\t" TM2_FC_STEP TM2_FC_STEP                                                                    \
      "4:\n\t" TM2_FC_STEP TM2_FC_STEP                                                                    \
      "cmp %[pw], %[end]\n\t"                                                                             \
      "bne 1b\n\t"                                                                                        \
      "ldr %[t], %[qm]\n\t"                                                                               \
      "ldr %[px], %[zpm]\n\t" RQ4                                                                         \
      "str %[t], %[qm]\n\t"                                                                               \
      "ldr %[x0], %[om]\n\t"                                                                              \
      "strb %[a0], [%[x0]]\n\t"                                                                           \
      "strb %[a1], [%[x0], #1]\n\t"                                                                       \
      "strb %[a2], [%[x0], #2]\n\t"                                                                       \
      "strb %[a3], [%[x0], #3]\n\t"                                                                       \
      "add %[x0], %[x0], #4\n\t"                                                                          \
      "str %[x0], %[om]\n\t"                                                                              \
      "ldr %[x0], %[cnt]\n\t"                                                                             \
      "subs %[x0], %[x0], #1\n\t"                                                                         \
      "str %[x0], %[cnt]\n\t"                                                                             \
      "bne 0b\n\t"                                                                                        \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [px] "=&r"(px), [pw] "+r"(pw),    \
        [x0] "=&r"(x0), [x1] "=&r"(x1), [wa] "=&r"(wa), [wb] "=&r"(wb), [wc] "=&r"(wc), [wd] "=&r"(wd),    \
        [t] "=&r"(t), [end] "=&r"(end), [bm] "+m"(bp), [qm] "+m"(qp), [om] "+m"(op), [cnt] "+m"(count)     \
      : [bstep] "m"(bstep), [rowm] "m"(row), [kp4m] "m"(kp4), [zpm] "m"(zp)                                \
      : "cc", "memory")

#endif

void tm2_fully_connected_s8_packed(const tm2_fc_packed_params *p, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output) {
  const int32_t kp = p->depth_padded;
  const int32_t out_depth = p->out_depth;
  const int32_t groups = (out_depth + 3) / 4;
  int16_t *row = (int16_t *)scratch;
#if TM2_FC_USE_DSP
  const int fast = (p->rq_mode == TM2_RQ_DOUBLE_FAST || p->rq_mode == TM2_RQ_SINGLE_FAST) && p->act_min == -128 &&
                   p->act_max == 127;
  const int double_rounding = p->rq_mode == TM2_RQ_DOUBLE_FAST;
#endif
  for (int32_t b = 0; b < p->batches; ++b) {
    tm2_fc_widen(p, input + (size_t)b * p->accum_depth, row);
    int8_t *out = output + (size_t)b * out_depth;
    int32_t g = 0;
#if TM2_FC_USE_DSP
    if (fast && out_depth >= 4) {
      /* Full groups of four rows in one assembly loop; a partial last group goes through the code below. */
      static const int32_t zero_bias[4] = {0, 0, 0, 0};
      const int32_t *bp = bias != NULL ? bias : zero_bias;
      const int32_t bstep = bias != NULL ? 16 : 0;
      const tm2_rq *qp = rq;
      int8_t *op = out;
      int32_t count = out_depth / 4;
      const int8_t *pw = weights;
      const int32_t kp4 = 4 * kp, zp = p->output_offset;
      int32_t a0, a1, a2, a3;
      uint32_t px, x0, x1, wa, wb, wc, wd, t, end;
      if (double_rounding && p->per_channel) {
        TM2_FC_GROUPS(TM2_FC_RQ4_CHANNEL(TM2_FC_RQ_DOUBLE));
      } else if (double_rounding) {
        TM2_FC_GROUPS(TM2_FC_RQ4_TENSOR(TM2_FC_RQ_DOUBLE));
      } else if (p->per_channel) {
        TM2_FC_GROUPS(TM2_FC_RQ4_CHANNEL(TM2_FC_RQ_SINGLE));
      } else {
        TM2_FC_GROUPS(TM2_FC_RQ4_TENSOR(TM2_FC_RQ_SINGLE));
      }
      g = out_depth / 4;
    }
#endif
    for (; g < groups; ++g) {
      const int8_t *w = weights + (size_t)g * kp * 4;
      const int32_t r0 = 4 * g;
      const int32_t nrows = tm2_min_i32(4, out_depth - r0);
      int32_t acc[4];
      for (int32_t i = 0; i < 4; ++i) acc[i] = (bias != NULL && i < nrows) ? bias[r0 + i] : 0;
#if TM2_FC_USE_DSP
      {
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        const uint32_t *px = (const uint32_t *)row;
        const int8_t *pw = w;
        const int8_t *wend = w + 4 * kp;
        uint32_t x0 = (uint32_t)(kp >> 3), x1, wa, wb, wc, wd, t;
        /* kp / 8 pairs of steps; the loop body holds four steps, an odd count enters halfway (the
         * partial-group and generic-requantisation path; full groups run in TM2_FC_GROUPS). */
        __asm__ volatile(
            "tst %[x0], #1\n\t"
            "bne 2f\n"
            "1:\n\t" TM2_FC_STEP TM2_FC_STEP
            "2:\n\t" TM2_FC_STEP TM2_FC_STEP
            "cmp %[pw], %[end]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [px] "+r"(px), [pw] "+r"(pw),
              [x0] "+r"(x0), [x1] "=&r"(x1), [wa] "=&r"(wa), [wb] "=&r"(wb), [wc] "=&r"(wc), [wd] "=&r"(wd),
              [t] "=&r"(t)
            : [end] "r"(wend)
            : "cc", "memory");
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
      }
      if (fast) {
        for (int32_t i = 0; i < nrows; ++i) {
          const tm2_rq *q = &rq[p->per_channel ? r0 + i : 0];
          out[r0 + i] = (int8_t)(double_rounding ? tm2_rq_double_fast_s8(acc[i], q->mult, q->hi, q->sh, p->output_offset)
                                                 : tm2_rq_single_fast_s8(acc[i], q));
        }
        continue;
      }
#else
      {
        const int8_t *wp = w;
        for (int32_t j = 0; j < kp / 2; ++j) {
          const int32_t xa = row[2 * j], xb = row[2 * j + 1];
          acc[0] += xa * wp[0] + xb * wp[2];
          acc[1] += xa * wp[1] + xb * wp[3];
          acc[2] += xa * wp[4] + xb * wp[6];
          acc[3] += xa * wp[5] + xb * wp[7];
          wp += 8;
        }
      }
#endif
      for (int32_t i = 0; i < nrows; ++i) {
        const tm2_rq *q = &rq[p->per_channel ? r0 + i : 0];
        const int32_t v = tm2_rq_apply(acc[i], q, p->rq_mode, p->output_offset);
        out[r0 + i] = (int8_t)tm2_clamp_i32(v, p->act_min, p->act_max);
      }
    }
  }
}
