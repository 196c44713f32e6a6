/* tinym2net int8 depthwise 3x3 convolutions on packed weights (see tm2_conv_dsp.h for layouts and
 * arithmetic). Hand-written for tinym2net. C99, no heap, no state. */
#include "tm2_conv_dsp.h"

#include <stddef.h>
#include <string.h>

#include "tm2_dsp_common.h"
#include "tm2_dw_plane6.h"
#include "tm2_dw_s2_dsp.h"

/* ----------------------------------------------------------------------------- depthwise 3x3 */

/* Transposes input row `row`, channels c0 .. c0 + n - 1 (n <= 4), into the channel rows of one slot:
 * dst[j * row_len + pad_w + x] = row[x][c0 + j] + input_offset. The rest of each row (padding columns)
 * is zeroed once per call and never written. With the DSP extension and a full quad: one word load and
 * two SXTAB16 per input column. */
static inline void tm2_dw_transpose_quad(const tm2_dw3x3_packed_params *p, const int8_t *row, int32_t c0,
                                         int32_t n, int16_t *dst) {
  const int32_t ch = p->channels;
  const int32_t len = p->row_len;
  const int32_t off = p->input_offset;
  const int32_t in_w = p->in_w;
  const int8_t *src = row + c0;
  dst += p->pad_w;
#if TM2_CONV_USE_DSP
  if (n == 4 && (ch & 3) == 0) {
    const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
    int16_t *const end = dst + in_w;
    for (; dst != end; ++dst, src += ch) {
      uint32_t w;
      memcpy(&w, src, 4);
      const uint32_t even = __sxtab16(off2, w);       /* channels c0, c0 + 2 */
      const uint32_t odd = tm2_sxtab16_ror8(off2, w); /* channels c0 + 1, c0 + 3 */
      dst[0] = (int16_t)even;
      dst[len] = (int16_t)odd;
      dst[2 * len] = (int16_t)(even >> 16);
      dst[3 * len] = (int16_t)(odd >> 16);
    }
    return;
  }
#endif
  for (int32_t j = 0; j < n; ++j) {
    for (int32_t x = 0; x < in_w; ++x) dst[(size_t)j * len + x] = (int16_t)(src[(size_t)x * ch + j] + off);
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

/* Four outputs of one filter row, stride 1: taps in words x0 = (t0, t1), x1 = (t2, t3), x2 = (t4, t5),
 * weights wa = (w0, w1), wb = (w1, w2). */
#define TM2_DW_ROW4_S1(X, WA, WB)                              \
  do {                                                         \
    const uint32_t x0_ = (X)[0], x1_ = (X)[1], x2_ = (X)[2];   \
    a0 = tm2_mac_bt(x1_, (WB), tm2_dot2(x0_, (WA), a0));       \
    a1 = tm2_dot2(x1_, (WB), tm2_mac_tb(x0_, (WA), a1));       \
    a2 = tm2_mac_bt(x2_, (WB), tm2_dot2(x1_, (WA), a2));       \
    a3 = tm2_dot2(x2_, (WB), tm2_mac_tb(x1_, (WA), a3));       \
  } while (0)

/* The same for stride 2: output i reads word i (t_2i, t_2i+1) and the bottom half of word i + 1. */
#define TM2_DW_ROW4_S2(X, WA, WB)                                                  \
  do {                                                                             \
    const uint32_t x0_ = (X)[0], x1_ = (X)[1], x2_ = (X)[2], x3_ = (X)[3], x4_ = (X)[4]; \
    a0 = tm2_mac_bt(x1_, (WB), tm2_dot2(x0_, (WA), a0));                           \
    a1 = tm2_mac_bt(x2_, (WB), tm2_dot2(x1_, (WA), a1));                           \
    a2 = tm2_mac_bt(x3_, (WB), tm2_dot2(x2_, (WA), a2));                           \
    a3 = tm2_mac_bt(x4_, (WB), tm2_dot2(x3_, (WA), a3));                           \
  } while (0)

/* Output x of a channel row as an int8 byte: requantisation (mode of the layer), offset, clamp. */
static inline int8_t tm2_dw_out(const tm2_dw3x3_packed_params *p, int32_t acc, const tm2_rq *q) {
  return tm2_store_clamped(tm2_rq_apply(acc, q, p->rq_mode, p->output_offset), p->act_min, p->act_max);
}

#if TM2_CONV_USE_DSP
/* The multiply-accumulates of one filter row of four outputs, on x0..x2 (taps) and wa, wb (weights): stride 1
 * (eight, in one run), stride 2 (outputs 0-1, then 2-3 once x0, x1 hold the next words). */
#define TM2_DWA_MACS_S1                      \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"   \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"    \
  "smlad %[a2], %[x1], %[wa], %[a2]\n\t"    \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"   \
  "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"   \
  "smlad %[a3], %[x2], %[wb], %[a3]\n\t"
#define TM2_DWA_MACS_S2_01                   \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlad %[a1], %[x1], %[wa], %[a1]\n\t"    \
  "smlabt %[a1], %[x2], %[wb], %[a1]\n\t"
#define TM2_DWA_MACS_S2_23                   \
  "smlad %[a2], %[x2], %[wa], %[a2]\n\t"    \
  "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"   \
  "smlad %[a3], %[x0], %[wa], %[a3]\n\t"    \
  "smlabt %[a3], %[x1], %[wb], %[a3]\n\t"

/* One filter row of a group of four stride-1 outputs in assembly: taps in words x0 = (t0, t1), x1 = (t2, t3),
 * x2 = (t4, t5) of row R (R advances by the group's 8 bytes), weights wa = (w0, w1), wb = (w1, w2) at byte
 * WOFF of wr. Five loads in a row, eight multiply-accumulates. */
#define TM2_DWA_ROW_S1(R, WOFF)              \
  "ldr %[x0], [%[" R "]], #8\n\t"           \
  "ldr %[x1], [%[" R "], #-4]\n\t"          \
  "ldr %[x2], [%[" R "]]\n\t"               \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  TM2_DWA_MACS_S1

/* The same for stride 2: output i reads word i (t_2i, t_2i+1) and the bottom of word i + 1; R advances 16. */
#define TM2_DWA_ROW_S2(R, WOFF)              \
  "ldr %[x0], [%[" R "]], #16\n\t"          \
  "ldr %[x1], [%[" R "], #-12]\n\t"         \
  "ldr %[x2], [%[" R "], #-8]\n\t"          \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  TM2_DWA_MACS_S2_01 \
  "ldr %[x0], [%[" R "], #-4]\n\t"          \
  "ldr %[x1], [%[" R "]]\n\t"               \
  TM2_DWA_MACS_S2_23

/* TM2_RQ_HIGHMUL of accumulator A (undoubled) to a saturated int8 value: m in x0, hz in x1, e in x2; the
 * signed form uses wa as a temporary; the low form (output offset -128, full range) has no sign correction. */
#define TM2_DWA_RQ_SIGNED(A)                    \
  "add %[" A "], %[" A "], %[" A "]\n\t"        \
  "smmlar %[wa], %[" A "], %[x0], %[x1]\n\t"    \
  "add %[" A "], %[wa], %[" A "], asr #31\n\t"  \
  "asr %[" A "], %[" A "], %[x2]\n\t"           \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_DWA_RQ_LOW(A)                       \
  "add %[" A "], %[" A "], %[" A "]\n\t"        \
  "smmlar %[" A "], %[" A "], %[x0], %[x1]\n\t" \
  "asr %[" A "], %[" A "], %[x2]\n\t"           \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* Filter row of the three-output tail (a partial last group of three), row pointer R staying put: the sums
 * of outputs 0 .. 2 only (a3 is not stored). */
#define TM2_DWA_ROW_S1_NW(R, WOFF)           \
  "ldr %[x0], [%[" R "]]\n\t"               \
  "ldr %[x1], [%[" R "], #4]\n\t"           \
  "ldr %[x2], [%[" R "], #8]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"   \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"    \
  "smlad %[a2], %[x1], %[wa], %[a2]\n\t"    \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"
#define TM2_DWA_ROW_S2_NW(R, WOFF)           \
  "ldr %[x0], [%[" R "]]\n\t"               \
  "ldr %[x1], [%[" R "], #4]\n\t"           \
  "ldr %[x2], [%[" R "], #8]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  TM2_DWA_MACS_S2_01 \
  "ldr %[x0], [%[" R "], #12]\n\t"          \
  "smlad %[a2], %[x2], %[wa], %[a2]\n\t"    \
  "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"

/* Filter row of two outputs (the last two of a row) whose row pointer R stays put, stride 1 and 2. */
#define TM2_DWA_ROW2_S1(R, WOFF)             \
  "ldr %[x0], [%[" R "]]\n\t"               \
  "ldr %[x1], [%[" R "], #4]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"   \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"
#define TM2_DWA_ROW2_S2(R, WOFF)             \
  "ldr %[x0], [%[" R "]]\n\t"               \
  "ldr %[x1], [%[" R "], #4]\n\t"           \
  "ldr %[x2], [%[" R "], #8]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  TM2_DWA_MACS_S2_01

/* Filter row of a single output (taps t0, t1, t2 in the words at R and R + 4), either stride. */
#define TM2_DWA_ONE(R, WOFF)                 \
  "ldr %[x0], [%[" R "]]\n\t"               \
  "ldr %[x1], [%[" R "], #4]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"

/* x0 = the word at byte OFF of the quad-row state (tm2_dwq_state). */
#define TM2_DWQ_ST(OFF) "ldr %[x0], %[stp]\n\t" "ldr %[x0], [%[x0], #" OFF "]\n\t"

/* Per-channel loop state of TM2_DWQ, in memory. */
typedef struct {
  int32_t gt;   /*  0: groups << 3 | tail code (0 .. 3 outputs; 4: five, see TM2_DWA_FIVE_LOW) */
  int32_t radv; /*  4: row pointer advance from one channel to the next, after its full groups */
  int32_t cc;   /*  8: channels left */
  int8_t *op;   /* 12: the channel's first output of the row */
} tm2_dwq_state;

/* The bias of the current channel into a0 (and a1 .. a3 for a group). */
#define TM2_DWA_BIAS1 "ldr %[x0], %[bpm]\n\t" "ldr %[a0], [%[x0]]\n\t"
#define TM2_DWA_BIAS4 TM2_DWA_BIAS1 "mov %[a1], %[a0]\n\t" "mov %[a2], %[a0]\n\t" "mov %[a3], %[a0]\n\t"
/* The channel's requantisation entry: m -> x0, hz -> x1, e -> x2. */
#define TM2_DWA_Q "ldr %[x2], %[qpm]\n\t" "ldr %[x0], [%[x2]]\n\t" "ldr %[x1], [%[x2], #4]\n\t" "ldr %[x2], [%[x2], #12]\n\t"

/* Filter row of the last five outputs of a stride-1 row (a group of four plus the single last output:
 * taps t0 .. t7 in words x0, x1, x2 and, once x0 is used, x0 again; the fifth sum lives in o). */
#define TM2_DWA_ROW5(R, WOFF)                \
  "ldr %[x0], [%[" R "]]\n\t"               \
  "ldr %[x1], [%[" R "], #4]\n\t"           \
  "ldr %[x2], [%[" R "], #8]\n\t"           \
  "ldr %[wa], [%[wr], #" WOFF "]\n\t"       \
  "ldr %[wb], [%[wr], #" WOFF "+4]\n\t"     \
  "smlad %[a0], %[x0], %[wa], %[a0]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"   \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"    \
  "ldr %[x0], [%[" R "], #12]\n\t"          \
  "smlad %[a2], %[x1], %[wa], %[a2]\n\t"    \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"   \
  "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"   \
  "smlad %[a3], %[x2], %[wb], %[a3]\n\t"    \
  "smlad %[o], %[x2], %[wa], %[o]\n\t"      \
  "smlabt %[o], %[x0], %[wb], %[o]\n\t"

/* The last five outputs of a stride-1 channel row, output offset -128 (TM2_DWA_RQ_LOW): the output pointer
 * waits in the group-count slot while o holds the fifth sum. */
#define TM2_DWA_FIVE(BIAS4, Q, RQ)                                                                      \
  "str %[o], %[gc]\n\t" BIAS4 "mov %[o], %[a0]\n\t" TM2_DWA_ROW5("ra", "0") TM2_DWA_ROW5("rb", "8")         \
  TM2_DWA_ROW5("rc", "16") Q RQ("a0") RQ("a1") RQ("a2") RQ("a3") RQ("o")                                  \
  "ldr %[wa], %[gc]\n\t"                                                                               \
  "ldr %[wb], %[chm]\n\t"                                                                              \
  "strb %[a0], [%[wa]]\n\t"                                                                            \
  "strb %[a1], [%[wa], %[wb]]\n\t"                                                                     \
  "add %[wa], %[wa], %[wb], lsl #1\n\t"                                                                \
  "strb %[a2], [%[wa]]\n\t"                                                                            \
  "strb %[a3], [%[wa], %[wb]]\n\t"                                                                     \
  "add %[wa], %[wa], %[wb], lsl #1\n\t"                                                                \
  "strb %[o], [%[wa]]\n\t"
#define TM2_DWA_FIVE_LOW TM2_DWA_FIVE(TM2_DWA_BIAS4, TM2_DWA_Q, TM2_DWA_RQ_LOW)

/* One output row of the n channels of a quad (TM2_RQ_HIGHMUL, full int8 range): per channel, G full groups
 * of four outputs, then the T = out_w % 4 last outputs (one: a single output; two or three: a group whose
 * last outputs are not stored); then the row pointers advance by radv to the next channel's rows, and the
 * weight, bias, requantisation and output pointers by one channel. Loop state lives in memory operands
 * (stack slots): the group needs all fourteen usable registers. */
#define TM2_DWQ(ROW, ROW_NW, ROW2, RQ, FIVE)                                                                  \
  TM2_DWQX(TM2_DWA_BIAS4 ROW("ra", "0"), ROW, ROW_NW, ROW2, RQ, FIVE, "", TM2_DWA_BIAS4, TM2_DWA_BIAS1, TM2_DWA_Q, \
           TM2_DWQ_ADV, TM2_DWQ_GSET, TM2_DWA_Q, TM2_DWQ_GEND)
/* The group loop of the packed kernel: the group count in gc; after the requantisation, four byte stores
 * chm apart and the count. */
#define TM2_DWQ_GSET "str %[x0], %[gc]\n"
#define TM2_DWQ_GEND                         \
  "ldr %[wb], %[chm]\n\t"                   \
  "strb %[a0], [%[o]]\n\t"                  \
  "strb %[a1], [%[o], %[wb]]\n\t"           \
  "add %[o], %[o], %[wb], lsl #1\n\t"       \
  "strb %[a2], [%[o]]\n\t"                  \
  "strb %[a3], [%[o], %[wb]]\n\t"           \
  "add %[o], %[o], %[wb], lsl #1\n\t"       \
  "ldr %[x0], %[gc]\n\t"                    \
  "subs %[x0], %[x0], #1\n\t"               \
  "str %[x0], %[gc]\n\t"                    \
  "bne 2b\n"
/* From one channel to the next: weights, bias and requantisation entry one channel on, the output one byte;
 * leaves the state pointer in x1. */
#define TM2_DWQ_ADV                          \
  "add %[wr], %[wr], #24\n\t"               \
  "ldr %[x0], %[bpm]\n\t"                   \
  "add %[x0], %[x0], #4\n\t"                \
  "str %[x0], %[bpm]\n\t"                   \
  "ldr %[x0], %[qpm]\n\t"                   \
  "add %[x0], %[x0], #16\n\t"               \
  "str %[x0], %[qpm]\n\t"                   \
  "ldr %[x1], %[stp]\n\t"                   \
  "ldr %[x0], [%[x1], #12]\n\t"             \
  "add %[x0], %[x0], #1\n\t"                \
  "str %[x0], [%[x1], #12]\n\t"
/* The same with the pieces that differ between the packed kernel and the plane kernel: HEAD (bias and first
 * filter row of a group), PRE (run once, before the loop), BIAS4 / BIAS1 / Q of the tails, ADV (from one
 * row to the next, after the row pointers moved by radv; leaves the state pointer in x1). */
#define TM2_DWQX(HEAD, ROW, ROW_NW, ROW2, RQ, FIVE, PRE, BIAS4, BIAS1, Q, ADV, GSET, QG, GEND)            \
  __asm__ volatile(                                                                                    \
      PRE "1:\n\t" TM2_DWQ_ST("12")                                                                    \
      "mov %[o], %[x0]\n\t" TM2_DWQ_ST("0")                                                            \
      "lsrs %[x0], %[x0], #3\n\t"                                                                      \
      "beq 5f\n\t" GSET                                                                                \
      "2:\n\t" HEAD ROW("rb", "8") ROW("rc", "16") QG                                                 \
      RQ("a0") RQ("a1") RQ("a2") RQ("a3") GEND                                                         \
      "5:\n\t" TM2_DWQ_ST("0")                                                                         \
      "and %[x0], %[x0], #7\n\t"                                                                       \
      "cmp %[x0], #1\n\t"                                                                              \
      "blt 8f\n\t"                                                                                     \
      "bgt 6f\n\t" BIAS1 TM2_DWA_ONE("ra", "0") TM2_DWA_ONE("rb", "8") TM2_DWA_ONE("rc", "16")         \
      Q RQ("a0")                                                                                       \
      "strb %[a0], [%[o]]\n\t"                                                                         \
      "b 8f\n"                                                                                         \
      "6:\n\t"                                                                                         \
      "cmp %[x0], #4\n\t"                                                                              \
      "beq 7f\n\t"                                                                                     \
      "cmp %[x0], #2\n\t"                                                                              \
      "beq 9f\n\t" BIAS4 ROW_NW("ra", "0") ROW_NW("rb", "8") ROW_NW("rc", "16") Q                      \
      RQ("a0") RQ("a1") RQ("a2")                                                                       \
      "ldr %[wb], %[chm]\n\t"                                                                          \
      "strb %[a0], [%[o]]\n\t"                                                                         \
      "strb %[a1], [%[o], %[wb]]\n\t"                                                                  \
      "add %[o], %[o], %[wb], lsl #1\n\t"                                                              \
      "strb %[a2], [%[o]]\n\t"                                                                         \
      "b 8f\n"                                                                                         \
      "9:\n\t" BIAS1 "mov %[a1], %[a0]\n\t" ROW2("ra", "0") ROW2("rb", "8") ROW2("rc", "16") Q           \
      RQ("a0") RQ("a1")                                                                                \
      "ldr %[wb], %[chm]\n\t"                                                                          \
      "strb %[a0], [%[o]]\n\t"                                                                         \
      "strb %[a1], [%[o], %[wb]]\n\t"                                                                  \
      "b 8f\n"                                                                                         \
      "7:\n\t" FIVE                                                                                    \
      "8:\n\t" TM2_DWQ_ST("4")                                                                         \
      "add %[ra], %[ra], %[x0]\n\t"                                                                    \
      "add %[rb], %[rb], %[x0]\n\t"                                                                    \
      "add %[rc], %[rc], %[x0]\n\t" ADV                                                                \
      "ldr %[x0], [%[x1], #8]\n\t"                                                                     \
      "subs %[x0], %[x0], #1\n\t"                                                                      \
      "str %[x0], [%[x1], #8]\n\t"                                                                     \
      "bne 1b\n\t"                                                                                     \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1), \
        [x2] "=&r"(x2), [wa] "=&r"(wa), [wb] "=&r"(wb), [ra] "+r"(xa), [rb] "+r"(xb), [rc] "+r"(xc),    \
        [wr] "+r"(wr), [o] "=&r"(o), [gc] "=m"(gcount), [bpm] "+m"(bp), [qpm] "+m"(qp), [bs] "=m"(slot[0]), \
        [ms] "=m"(slot[1]), [hs] "=m"(slot[2]), [es] "=m"(slot[3])                                     \
      : [chm] "m"(ch), [stp] "m"(stp)                                                                  \
      : "cc", "memory")

/* The plane kernel's form: weights and bias pre-doubled (so the requantisation skips its doubling), and each
 * channel's bias, m, hz and e copied once per channel into stack slots (bs, ms, hs, es), from where a group
 * loads them in runs of pipelined loads. */
#define TM2_DWP_BIAS1 "ldr %[a0], %[bs]\n\t"
#define TM2_DWP_BIAS4 TM2_DWP_BIAS1 "mov %[a1], %[a0]\n\t" "mov %[a2], %[a0]\n\t" "mov %[a3], %[a0]\n\t"
#define TM2_DWP_Q "ldr %[x0], %[ms]\n\t" "ldr %[x1], %[hs]\n\t" "ldr %[x2], %[es]\n\t"
/* First filter row of a group, the bias (in a3) as the addend of each sum's first product. */
#define TM2_DWP_HEAD_S1                      \
  "ldr %[a3], %[bs]\n\t"                    \
  "ldr %[x0], [%[ra]], #8\n\t"              \
  "ldr %[x1], [%[ra], #-4]\n\t"             \
  "ldr %[x2], [%[ra]]\n\t"                  \
  "ldr %[wa], [%[wr]]\n\t"                  \
  "ldr %[wb], [%[wr], #4]\n\t"              \
  "smlad %[a0], %[x0], %[wa], %[a3]\n\t"    \
  "smlatb %[a1], %[x0], %[wa], %[a3]\n\t"   \
  "smlad %[a2], %[x1], %[wa], %[a3]\n\t"    \
  "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"   \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"    \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"   \
  "smlad %[a3], %[x2], %[wb], %[a3]\n\t"
#define TM2_DWP_HEAD_S2                      \
  "ldr %[a3], %[bs]\n\t"                    \
  "ldr %[x0], [%[ra]], #16\n\t"             \
  "ldr %[x1], [%[ra], #-12]\n\t"            \
  "ldr %[x2], [%[ra], #-8]\n\t"             \
  "ldr %[wa], [%[wr]]\n\t"                  \
  "ldr %[wb], [%[wr], #4]\n\t"              \
  "smlad %[a0], %[x0], %[wa], %[a3]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlad %[a1], %[x1], %[wa], %[a3]\n\t"    \
  "smlabt %[a1], %[x2], %[wb], %[a1]\n\t"   \
  "smlad %[a2], %[x2], %[wa], %[a3]\n\t"    \
  "ldr %[x0], [%[ra], #-4]\n\t"             \
  "ldr %[x1], [%[ra]]\n\t"                  \
  "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"   \
  "smlad %[a3], %[x0], %[wa], %[a3]\n\t"    \
  "smlabt %[a3], %[x1], %[wb], %[a3]\n\t"
/* TM2_DWA_RQ_SIGNED / TM2_DWA_RQ_LOW of an accumulator that is already doubled. */
#define TM2_DWP_RQ_SIGNED(A)                    \
  "smmlar %[wa], %[" A "], %[x0], %[x1]\n\t"    \
  "add %[" A "], %[wa], %[" A "], asr #31\n\t"  \
  "asr %[" A "], %[" A "], %[x2]\n\t"           \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_DWP_RQ_LOW(A)                       \
  "smmlar %[" A "], %[" A "], %[x0], %[x1]\n\t" \
  "asr %[" A "], %[" A "], %[x2]\n\t"           \
  "ssat %[" A "], #8, %[" A "]\n\t"
/* TM2_DWA_RQ_SIGNED / TM2_DWA_RQ_LOW of an accumulator that is already doubled. */
#define TM2_DWP_RQ_SIGNED(A)                    \
  "smmlar %[wa], %[" A "], %[x0], %[x1]\n\t"    \
  "add %[" A "], %[wa], %[" A "], asr #31\n\t"  \
  "asr %[" A "], %[" A "], %[x2]\n\t"           \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_DWP_RQ_LOW(A)                       \
  "smmlar %[" A "], %[" A "], %[x0], %[x1]\n\t" \
  "asr %[" A "], %[" A "], %[x2]\n\t"           \
  "ssat %[" A "], #8, %[" A "]\n\t"
/* The plane kernel's rows are the output columns of one channel: same weights, bias and requantisation, the
 * output ostep bytes on. */
#define TM2_DWP_ADV                          \
  "ldr %[x1], %[stp]\n\t"                   \
  "ldr %[x0], [%[x1], #12]\n\t"             \
  "ldr %[x2], [%[x1], #16]\n\t"             \
  "add %[x0], %[x0], %[x2]\n\t"             \
  "str %[x0], [%[x1], #12]\n\t"
/* The plane kernel's group loop: gc holds the output pointer at which the groups end; the requantisation
 * entry, chm and (low form, where wa is free) that end come in one run of loads; the stores keep their
 * address registers away from the instruction that computes them. */
#define TM2_DWP_GSET                         \
  "ldr %[x1], %[chm]\n\t"                   \
  "mul %[x1], %[x0], %[x1]\n\t"             \
  "add %[x1], %[o], %[x1], lsl #2\n\t"      \
  "str %[x1], %[gc]\n"
#define TM2_DWP_QG_LOW TM2_DWP_Q "ldr %[wb], %[chm]\n\t" "ldr %[wa], %[gc]\n\t"
#define TM2_DWP_QG_SIGNED TM2_DWP_Q "ldr %[wb], %[chm]\n\t"
#define TM2_DWP_STORE4                       \
  "strb %[a0], [%[o]]\n\t"                  \
  "strb %[a1], [%[o], %[wb]]\n\t"           \
  "add %[x1], %[o], %[wb], lsl #1\n\t"      \
  "add %[o], %[o], %[wb], lsl #2\n\t"       \
  "strb %[a2], [%[x1]]\n\t"                 \
  "strb %[a3], [%[x1], %[wb]]\n\t"
#define TM2_DWP_GEND_LOW TM2_DWP_STORE4 "cmp %[o], %[wa]\n\t" "bne 2b\n"
#define TM2_DWP_GEND_SIGNED TM2_DWP_STORE4 "ldr %[x0], %[gc]\n\t" "cmp %[o], %[x0]\n\t" "bne 2b\n"
/* First filter row of the two-output tail, the bias (in a1) as the addend of both sums' first products. */
#define TM2_DWP_ROW2H_S1                     \
  "ldr %[a1], %[bs]\n\t"                    \
  "ldr %[x0], [%[ra]]\n\t"                  \
  "ldr %[x1], [%[ra], #4]\n\t"              \
  "ldr %[wa], [%[wr]]\n\t"                  \
  "ldr %[wb], [%[wr], #4]\n\t"              \
  "smlad %[a0], %[x0], %[wa], %[a1]\n\t"    \
  "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"   \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"
#define TM2_DWP_ROW2H_S2                     \
  "ldr %[a1], %[bs]\n\t"                    \
  "ldr %[x0], [%[ra]]\n\t"                  \
  "ldr %[x1], [%[ra], #4]\n\t"              \
  "ldr %[x2], [%[ra], #8]\n\t"              \
  "ldr %[wa], [%[wr]]\n\t"                  \
  "ldr %[wb], [%[wr], #4]\n\t"              \
  "smlad %[a0], %[x0], %[wa], %[a1]\n\t"    \
  "smlad %[a1], %[x1], %[wa], %[a1]\n\t"    \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"   \
  "smlabt %[a1], %[x2], %[wb], %[a1]\n\t"
/* The five-output tail of TM2_DWP (stride 1, low form): the first filter row takes the bias (in a3) as the
 * addend of each sum's first product; the stores keep their address registers away from the instruction
 * that computes them. */
#define TM2_DWP_FIVE                                                                                    \
  "str %[o], %[gc]\n\t"                                                                               \
  "ldr %[a3], %[bs]\n\t"                                                                              \
  "ldr %[x0], [%[ra]]\n\t"                                                                            \
  "ldr %[x1], [%[ra], #4]\n\t"                                                                        \
  "ldr %[x2], [%[ra], #8]\n\t"                                                                        \
  "ldr %[wa], [%[wr]]\n\t"                                                                            \
  "ldr %[wb], [%[wr], #4]\n\t"                                                                        \
  "smlad %[a0], %[x0], %[wa], %[a3]\n\t"                                                              \
  "smlatb %[a1], %[x0], %[wa], %[a3]\n\t"                                                             \
  "smlad %[a2], %[x1], %[wa], %[a3]\n\t"                                                              \
  "smlad %[o], %[x2], %[wa], %[a3]\n\t"                                                               \
  "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"                                                             \
  "ldr %[x0], [%[ra], #12]\n\t"                                                                       \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                                                             \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"                                                              \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"                                                             \
  "smlad %[a3], %[x2], %[wb], %[a3]\n\t"                                                              \
  "smlabt %[o], %[x0], %[wb], %[o]\n\t" TM2_DWA_ROW5("rb", "8") TM2_DWA_ROW5("rc", "16") TM2_DWP_Q      \
  TM2_DWP_RQ_LOW("a0") TM2_DWP_RQ_LOW("a1") TM2_DWP_RQ_LOW("a2") TM2_DWP_RQ_LOW("a3") TM2_DWP_RQ_LOW("o") \
  "ldr %[wa], %[gc]\n\t"                                                                              \
  "ldr %[wb], %[chm]\n\t"                                                                             \
  "strb %[a0], [%[wa]]\n\t"                                                                           \
  "strb %[a1], [%[wa], %[wb]]\n\t"                                                                    \
  "add %[x1], %[wa], %[wb], lsl #1\n\t"                                                               \
  "add %[wa], %[wa], %[wb], lsl #2\n\t"                                                               \
  "strb %[a2], [%[x1]]\n\t"                                                                           \
  "strb %[a3], [%[x1], %[wb]]\n\t"                                                                    \
  "strb %[o], [%[wa]]\n\t"

/* Filter row of six stride-1 outputs: TM2_DWA_ROW5 and the sixth sum (a group of four plus the last two: taps
 * t0 .. t7 in words x0, x1, x2 and, once x0 is used, x0 again; the fifth sum lives in o, the sixth in rc). */
#define TM2_DWP_ROW6(R, WOFF)                \
  TM2_DWA_ROW5(R, WOFF)                     \
  "smlatb %[rc], %[x2], %[wa], %[rc]\n\t"   \
  "smlad %[rc], %[x0], %[wb], %[rc]\n\t"
/* The six-output tail of TM2_DWP (stride 1, low form; columns of 4k + 2 outputs: the last group and the last
 * two together): the output pointer waits in gc, o and rc hold the fifth and sixth sums; the first filter
 * row takes the bias (in a3) as the addend of each sum's first product; filter row 2 is read through ra
 * (2 rb - ra: plane columns are evenly spaced), and ra / rc are put back before the column end, where the
 * tail falls through. */
#define TM2_DWP_SIX                                                                                     \
  "str %[o], %[gc]\n\t"                                                                               \
  "ldr %[a3], %[bs]\n\t"                                                                              \
  "ldr %[x0], [%[ra]]\n\t"                                                                            \
  "ldr %[x1], [%[ra], #4]\n\t"                                                                        \
  "ldr %[x2], [%[ra], #8]\n\t"                                                                        \
  "ldr %[wa], [%[wr]]\n\t"                                                                            \
  "ldr %[wb], [%[wr], #4]\n\t"                                                                        \
  "smlad %[a0], %[x0], %[wa], %[a3]\n\t"                                                              \
  "smlatb %[a1], %[x0], %[wa], %[a3]\n\t"                                                             \
  "smlad %[a2], %[x1], %[wa], %[a3]\n\t"                                                              \
  "smlad %[o], %[x2], %[wa], %[a3]\n\t"                                                               \
  "smlatb %[rc], %[x2], %[wa], %[a3]\n\t"                                                             \
  "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"                                                             \
  "ldr %[x0], [%[ra], #12]\n\t"                                                                       \
  "rsb %[ra], %[ra], %[rb], lsl #1\n\t" /* ra: filter row 2's plane column (2 rb - ra) */               \
  "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                                                             \
  "smlad %[a1], %[x1], %[wb], %[a1]\n\t"                                                              \
  "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"                                                             \
  "smlad %[a3], %[x2], %[wb], %[a3]\n\t"                                                              \
  "smlabt %[o], %[x0], %[wb], %[o]\n\t"                                                               \
  "smlad %[rc], %[x0], %[wb], %[rc]\n\t" TM2_DWP_ROW6("rb", "8") TM2_DWP_ROW6("ra", "16") TM2_DWP_Q     \
  TM2_DWP_RQ_LOW("a0") TM2_DWP_RQ_LOW("a1") TM2_DWP_RQ_LOW("a2") TM2_DWP_RQ_LOW("a3") TM2_DWP_RQ_LOW("o") \
  TM2_DWP_RQ_LOW("rc")                                                                                \
  "ldr %[wa], %[gc]\n\t"                                                                              \
  "ldr %[wb], %[chm]\n\t"                                                                             \
  "strb %[a0], [%[wa]]\n\t"                                                                           \
  "strb %[a1], [%[wa], %[wb]]\n\t"                                                                    \
  "add %[x1], %[wa], %[wb], lsl #1\n\t"                                                               \
  "add %[wa], %[wa], %[wb], lsl #2\n\t"                                                               \
  "strb %[a2], [%[x1]]\n\t"                                                                           \
  "strb %[a3], [%[x1], %[wb]]\n\t"                                                                    \
  "strb %[o], [%[wa]]\n\t"                                                                            \
  "strb %[rc], [%[wa], %[wb]]\n\t"                                                                    \
  "mov %[rc], %[ra]\n\t"                                                                              \
  "rsb %[ra], %[ra], %[rb], lsl #1\n\t"

/* Every output column of one channel of the plane kernel (rows: the column's three plane columns, ra / rb / rc;
 * weights wr, bias and requantisation entry fixed; the outputs of column k start at op + k * ostep, chm bytes
 * apart). Loop state in a tm2_dwp_state (stp); the tail code is turned once into the address of its tail
 * (ldr pc per column instead of a chain of compares). */
typedef struct {
  int8_t *op;     /*  0: first output of the current column */
  int32_t ostep;  /*  4: from one column's first output to the next */
  int32_t cc;     /*  8: columns left */
  int32_t gbytes; /* 12: output bytes the groups of four cover: groups * 4 * chm */
  int32_t radv;   /* 16: row pointer advance after a column's groups */
  int32_t tail;   /* 20: tail code (0: none, 1: one output, 2: two, 3: three, 4: five, 5: six) */
  int32_t ncols;  /* 24: columns a channel */
  int32_t nch;    /* 28: channels left */
  const int16_t *cra; /* 32: the current channel's plane column 0 */
  int32_t rl2;    /* 36: bytes from one plane column to the next (filter row fy to fy + 1) */
  int32_t ps2;    /* 40: bytes from one channel's plane to the next */
  int8_t *cop;    /* 44: the current channel's first output */
  const int32_t *bp;  /* 48: its (doubled) bias */
  const tm2_rq *qp;   /* 52: its requantisation entry */
} tm2_dwp_state;

/* TM2_DWPC's pieces: SETUP turns the tail code into the tail's address (ts); COLGRP starts a column (output
 * pointer, the groups' end in gc) and runs its groups of four (at least one: columns without a group take the
 * no-group form); TAILS jumps to the tail (ldr pc) and holds them.
 * The forms: every column has groups and a tail (SETUP, COLGRP, TAILS); no tail (columns of 4k outputs: "",
 * COLGRP, "": the groups fall through to the column end); no group (columns of at most three outputs or the
 * five / six-output tail alone: SETUP, TM2_DWP_COL_NOG, TAILS: no group test, straight to the tail). */
#define TM2_DWP_SETUP                                                                                   \
      "ldr %[x0], [%[x1], #20]\n\t"                                                                    \
      "adr %[x2], 8f\n\t"                                                                             \
      "cmp %[x0], #1\n\t"                                                                              \
      "it eq\n\t"                                                                                      \
      "adreq %[x2], 11f\n\t"                                                                           \
      "cmp %[x0], #2\n\t"                                                                              \
      "it eq\n\t"                                                                                      \
      "adreq %[x2], 12f\n\t"                                                                           \
      "cmp %[x0], #3\n\t"                                                                              \
      "it eq\n\t"                                                                                      \
      "adreq %[x2], 13f\n\t"                                                                           \
      "cmp %[x0], #4\n\t"                                                                              \
      "it eq\n\t"                                                                                      \
      "adreq %[x2], 14f\n\t"                                                                           \
      "cmp %[x0], #5\n\t"                                                                              \
      "it eq\n\t"                                                                                      \
      "adreq %[x2], 15f\n\t"                                                                           \
      "orr %[x2], %[x2], #1\n\t"                                                                       \
      "str %[x2], %[ts]\n"
#define TM2_DWP_COLGRP(HEAD, ROW, RQ, QG, GEND)                                                         \
      "1:\n\t"                                                                                         \
      "ldr %[o], %[op]\n\t"                                                                            \
      "ldr %[x0], %[gb]\n\t"                                                                           \
      "ldr %[x2], %[ost]\n\t"                                                                          \
      "add %[x0], %[o], %[x0]\n\t"                                                                     \
      "add %[x2], %[o], %[x2]\n\t"                                                                     \
      "str %[x0], %[gc]\n\t"                                                                           \
      "str %[x2], %[op]\n"                                                                          \
      "2:\n\t" HEAD ROW("rb", "8") ROW("rc", "16") QG RQ("a0") RQ("a1") RQ("a2") RQ("a3") GEND         \
      "5:\n\t"
#define TM2_DWP_COL_NOG                      \
  "1:\n\t"                                 \
  "ldr %[o], %[op]\n\t"                    \
  "ldr %[x2], %[ost]\n\t"                  \
  "add %[x2], %[o], %[x2]\n\t"             \
  "str %[x2], %[op]\n\t"
#define TM2_DWP_TAILS(ROW_NW, ROW2, ROW2H, RQ, FIVE, SIX)                                               \
      "ldr pc, %[ts]\n"                                                                                \
      "11:\n\t" TM2_DWP_BIAS1 TM2_DWA_ONE("ra", "0") TM2_DWA_ONE("rb", "8") TM2_DWA_ONE("rc", "16")     \
      TM2_DWP_Q RQ("a0")                                                                               \
      "strb %[a0], [%[o]]\n\t"                                                                         \
      "b 8f\n"                                                                                         \
      "13:\n\t" TM2_DWP_BIAS4 ROW_NW("ra", "0") ROW_NW("rb", "8") ROW_NW("rc", "16") TM2_DWP_Q         \
      RQ("a0") RQ("a1") RQ("a2")                                                                       \
      "ldr %[wb], %[chm]\n\t"                                                                          \
      "strb %[a0], [%[o]]\n\t"                                                                         \
      "strb %[a1], [%[o], %[wb]]\n\t"                                                                  \
      "add %[o], %[o], %[wb], lsl #1\n\t"                                                              \
      "strb %[a2], [%[o]]\n\t"                                                                         \
      "b 8f\n"                                                                                         \
      "14:\n\t" FIVE                                                                                   \
      "b 8f\n"                                                                                         \
      "12:\n\t" ROW2H ROW2("rb", "8") ROW2("rc", "16") TM2_DWP_Q "ldr %[wb], %[chm]\n\t"                 \
      RQ("a0") RQ("a1")                                                                                \
      "strb %[a0], [%[o]]\n\t"                                                                         \
      "strb %[a1], [%[o], %[wb]]\n\t"                                                                  \
      "b 8f\n"                                                                                         \
      ".p2align 9\n" /* (no fall-through here) the six-output tail and the column end within 512 bytes */ \
      "15:\n\t" SIX
#define TM2_DWPC(SETUP, COLGRP, TAILS, NL, NOP, BACK)                                                                \
  __asm__ volatile(                                                                                    \
      "ldr %[x1], %[stp]\n\t" SETUP                                                                    \
      "0:\n\t" /* a channel: its rows, first output, column count, bias and requantisation slots */     \
      "ldr %[ra], [%[x1], #32]\n\t"                                                                    \
      "ldr %[x2], [%[x1], #36]\n\t"                                                                    \
      "ldr %[x0], [%[x1], #44]\n\t"                                                                    \
      "add %[rb], %[ra], %[x2]\n\t"                                                                    \
      "add %[rc], %[rb], %[x2]\n\t"                                                                    \
      "str %[x0], [%[x1]]\n\t"                                                                         \
      "ldr %[x0], [%[x1], #24]\n\t"                                                                    \
      "ldr %[x2], [%[x1], #48]\n\t"                                                                    \
      "str %[x0], [%[x1], #8]\n\t"                                                                     \
      "ldr %[x0], [%[x2]]\n\t"                                                                         \
      "ldr %[x2], [%[x1], #52]\n\t"                                                                    \
      "str %[x0], %[bs]\n\t"                                                                           \
      "ldr %[x0], [%[x2]]\n\t"                                                                         \
      "ldr %[a0], [%[x2], #4]\n\t"                                                                     \
      "ldr %[x2], [%[x2], #12]\n\t"                                                                    \
      "str %[x0], %[ms]\n\t"                                                                           \
      "str %[a0], %[hs]\n\t"                                                                           \
      "str %[x2], %[es]\n"                                                                             \
      COLGRP TAILS                                                                                     \
      "8:\n\t" /* the column end: loop state straight from the stack (no state pointer) */                \
      "ldr %[x0], %[radv]\n\t"                                                                         \
      "ldr %[x2], %[cc]\n\t" NL                                                                        \
      "add %[ra], %[ra], %[x0]\n\t"                                                                    \
      "add %[rb], %[rb], %[x0]\n\t"                                                                    \
      "add %[rc], %[rc], %[x0]\n\t" NOP                                                                \
      "subs %[x2], %[x2], #1\n\t"                                                                      \
      "str %[x2], %[cc]\n\t" BACK /* the next channel: plane, output byte, bias, requantisation entry, weights */ \
      "ldr %[x1], %[stp]\n\t"                                                                          \
      "ldr %[x0], [%[x1], #32]\n\t"                                                                    \
      "ldr %[x2], [%[x1], #40]\n\t"                                                                    \
      "ldr %[a0], [%[x1], #44]\n\t"                                                                    \
      "ldr %[a1], [%[x1], #48]\n\t"                                                                    \
      "ldr %[a2], [%[x1], #52]\n\t"                                                                    \
      "add %[x0], %[x0], %[x2]\n\t"                                                                    \
      "add %[a0], %[a0], #1\n\t"                                                                       \
      "add %[a1], %[a1], #4\n\t"                                                                       \
      "add %[a2], %[a2], #16\n\t"                                                                      \
      "str %[x0], [%[x1], #32]\n\t"                                                                    \
      "str %[a0], [%[x1], #44]\n\t"                                                                    \
      "str %[a1], [%[x1], #48]\n\t"                                                                    \
      "str %[a2], [%[x1], #52]\n\t"                                                                    \
      "add %[wr], %[wr], #24\n\t"                                                                      \
      "ldr %[x0], [%[x1], #28]\n\t"                                                                    \
      "subs %[x0], %[x0], #1\n\t"                                                                      \
      "str %[x0], [%[x1], #28]\n\t"                                                                    \
      "bne 0b\n\t"                                                                                     \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1), \
        [x2] "=&r"(x2), [wa] "=&r"(wa), [wb] "=&r"(wb), [ra] "=&r"(xa), [rb] "=&r"(xb), [rc] "=&r"(xc), \
        [wr] "+r"(wr), [o] "=&r"(o), [gc] "=m"(gend), [bs] "=m"(slot[0]), [ms] "=m"(slot[1]),          \
        [hs] "=m"(slot[2]), [es] "=m"(slot[3]), [ts] "=m"(tailpc), [op] "+m"(st.op), [cc] "+m"(st.cc)  \
      : [chm] "m"(chm), [stp] "m"(stp), [ost] "m"(st.ostep), [gb] "m"(st.gbytes), [radv] "m"(st.radv)  \
      : "cc", "memory")

#define TM2_DWPC_ALL(HEAD, ROW, ROW_NW, ROW2, ROW2H, RQ, FIVE, SIX, QG, GEND)                             \
  TM2_DWPC(TM2_DWP_SETUP, TM2_DWP_COLGRP(HEAD, ROW, RQ, QG, GEND), TM2_DWP_TAILS(ROW_NW, ROW2, ROW2H, RQ, FIVE, SIX), \
           "", "", "bne 1b\n\t")
#define TM2_DWPC_NOTAIL(HEAD, ROW, RQ, QG, GEND)                                                        \
  TM2_DWPC("", TM2_DWP_COLGRP(HEAD, ROW, RQ, QG, GEND), "", "", "", "bne 1b\n\t")
/* The no-group form: the column end starts the next column itself (output pointer, in the same run of loads)
 * and jumps straight to its tail (ldrne pc); the channel's first column goes through TM2_DWP_COL_NOG. */
#define TM2_DWPC_NOG(ROW_NW, ROW2, ROW2H, RQ, FIVE, SIX)                                                \
  TM2_DWPC(TM2_DWP_SETUP, TM2_DWP_COL_NOG, TM2_DWP_TAILS(ROW_NW, ROW2, ROW2H, RQ, FIVE, SIX),            \
           "ldr %[o], %[op]\n\t" "ldr %[a0], %[ost]\n\t",                                               \
           "add %[a0], %[o], %[a0]\n\t" "str %[a0], %[op]\n\t", "it ne\n\t" "ldrne pc, %[ts]\n\t")

/* Every output column of n channels of the plane kernel with TM2_DWPC: planes: channel 0's plane column 0
 * (column ox reads plane columns ox * stride + 0 .. 2), columns 2 * p->row_len bytes apart, channels ps2 bytes
 * apart; weights (six words a channel, the filter transposed) and bias (a word a channel) pre-doubled; the
 * p->out_w outputs of a column p->channels bytes apart, the columns' first outputs ostep bytes apart, those
 * of consecutive channels one byte; ncols columns. */
__attribute__((noinline, aligned(1024))) static void tm2_dw_plane_cols_fast(const tm2_dw3x3_packed_params *p, const int16_t *planes,
                                                         int32_t n, int32_t rl2, int32_t ps2, int32_t ncols,
                                                         const int32_t *weights, const int32_t *bias,
                                                         const tm2_rq *rq, int8_t *out, int32_t ostep) {
  const uint32_t *xa, *xb, *xc;
  const int32_t *wr = weights;
  int8_t *o;
  const int32_t chm = p->channels;
  int32_t groups = p->out_w >> 2, tail = p->out_w & 3;
  if (p->stride == 1 && p->output_offset == -128 && (tail == 1 || tail == 2) && groups > 0) {
    --groups; /* the last group and the last one or two outputs go together (TM2_DWP_FIVE, TM2_DWP_SIX) */
    tail += 3;
  }
  tm2_dwp_state st = {.ostep = ostep, .gbytes = groups * 4 * chm,
                      .radv = 2 * p->row_len - groups * (p->stride == 1 ? 8 : 16), .tail = tail, .ncols = ncols,
                      .nch = n, .cra = planes, .rl2 = rl2, .ps2 = ps2, .cop = out, .bp = bias, .qp = rq};
  tm2_dwp_state *stp = &st;
  int8_t *gend;
  uint32_t a0, a1, a2, a3, x0, x1, x2, wa, wb;
  int32_t slot[4];
  uint32_t tailpc; /* the tail's address (Thumb bit set) */
  if (p->output_offset == -128) {
    if (p->stride == 1) {
      if (tail == 0) {
        TM2_DWPC_NOTAIL(TM2_DWP_HEAD_S1, TM2_DWA_ROW_S1, TM2_DWP_RQ_LOW, TM2_DWP_QG_LOW, TM2_DWP_GEND_LOW);
      } else if (groups == 0) {
        TM2_DWPC_NOG(TM2_DWA_ROW_S1_NW, TM2_DWA_ROW2_S1, TM2_DWP_ROW2H_S1, TM2_DWP_RQ_LOW, TM2_DWP_FIVE, TM2_DWP_SIX);
      } else {
        TM2_DWPC_ALL(TM2_DWP_HEAD_S1, TM2_DWA_ROW_S1, TM2_DWA_ROW_S1_NW, TM2_DWA_ROW2_S1, TM2_DWP_ROW2H_S1,
                     TM2_DWP_RQ_LOW, TM2_DWP_FIVE, TM2_DWP_SIX, TM2_DWP_QG_LOW, TM2_DWP_GEND_LOW);
      }
    } else {
      if (tail == 0) {
        TM2_DWPC_NOTAIL(TM2_DWP_HEAD_S2, TM2_DWA_ROW_S2, TM2_DWP_RQ_LOW, TM2_DWP_QG_LOW, TM2_DWP_GEND_LOW);
      } else if (groups == 0) {
        TM2_DWPC_NOG(TM2_DWA_ROW_S2_NW, TM2_DWA_ROW2_S2, TM2_DWP_ROW2H_S2, TM2_DWP_RQ_LOW, "", "");
      } else {
        TM2_DWPC_ALL(TM2_DWP_HEAD_S2, TM2_DWA_ROW_S2, TM2_DWA_ROW_S2_NW, TM2_DWA_ROW2_S2, TM2_DWP_ROW2H_S2,
                     TM2_DWP_RQ_LOW, "", "", TM2_DWP_QG_LOW, TM2_DWP_GEND_LOW);
      }
    }
  } else { /* (the groups run at least once: columns without a group take the no-group form) */
    if (p->stride == 1) {
      if (groups == 0) {
        TM2_DWPC_NOG(TM2_DWA_ROW_S1_NW, TM2_DWA_ROW2_S1, TM2_DWP_ROW2H_S1, TM2_DWP_RQ_SIGNED, "", "");
      } else {
        TM2_DWPC_ALL(TM2_DWP_HEAD_S1, TM2_DWA_ROW_S1, TM2_DWA_ROW_S1_NW, TM2_DWA_ROW2_S1, TM2_DWP_ROW2H_S1,
                     TM2_DWP_RQ_SIGNED, "", "", TM2_DWP_QG_SIGNED, TM2_DWP_GEND_SIGNED);
      }
    } else {
      if (groups == 0) {
        TM2_DWPC_NOG(TM2_DWA_ROW_S2_NW, TM2_DWA_ROW2_S2, TM2_DWP_ROW2H_S2, TM2_DWP_RQ_SIGNED, "", "");
      } else {
        TM2_DWPC_ALL(TM2_DWP_HEAD_S2, TM2_DWA_ROW_S2, TM2_DWA_ROW_S2_NW, TM2_DWA_ROW2_S2, TM2_DWP_ROW2H_S2,
                     TM2_DWP_RQ_SIGNED, "", "", TM2_DWP_QG_SIGNED, TM2_DWP_GEND_SIGNED);
      }
    }
  }
  (void)o, (void)gend, (void)xa, (void)xb, (void)xc, (void)tailpc;
}

/* Columns of 6k outputs (stride 1, output offset -128, full int8 range: TM2_DWP_RQ_LOW): groups of six
 * outputs (sums in r0 .. r5), one filter row at a time: the weight words (w0x, w1x), (w1x, w2x) (r9, r10)
 * and taps t0 .. t3 (r6, r8) in a run of loads, six multiply-accumulates, taps t4 .. t7 by LDRD into r6, r8,
 * six more. Six sums, two tap and two weight registers leave the three row pointers and the output pointer
 * in registers; the weights, bias and requantisation entry sit in stack slots. The six outputs go to
 * o + k * chm (k = 0 .. 5): register offsets chm, 2 chm, 4 chm from o and from o + chm. Against groups of
 * four (TM2_DWPC: 73 cycles), a group (104) loads the weights and the requantisation entry and tests its loop
 * once for six outputs instead of four. */
#define TM2_DW6_HEAD                     \
  "ldr r5, %[bs]\n\t"                    \
  "ldr r9, %[w0]\n\t"                    \
  "ldr r10, %[w1]\n\t"                   \
  "ldr r6, [%[ra]], #12\n\t"             \
  "ldr r8, [%[ra], #-8]\n\t"             \
  "smlad r0, r6, r9, r5\n\t"             \
  "smlatb r1, r6, r9, r5\n\t"            \
  "smlad r2, r8, r9, r5\n\t"             \
  "smlatb r3, r8, r9, r5\n\t"            \
  "smlabt r0, r8, r10, r0\n\t"           \
  "smlad r1, r8, r10, r1\n\t"            \
  "ldrd r6, r8, [%[ra], #-4]\n\t"        \
  "smlabt r2, r6, r10, r2\n\t"           \
  "smlad r3, r6, r10, r3\n\t"            \
  "smlad r4, r6, r9, r5\n\t"             \
  "smlabt r4, r8, r10, r4\n\t"           \
  "smlatb r5, r6, r9, r5\n\t"            \
  "smlad r5, r8, r10, r5\n\t"
#define TM2_DW6_ROW(R, WA, WB)           \
  "ldr r9, %[" WA "]\n\t"                \
  "ldr r10, %[" WB "]\n\t"               \
  "ldr r6, [%[" R "]], #12\n\t"          \
  "ldr r8, [%[" R "], #-8]\n\t"          \
  "smlad r0, r6, r9, r0\n\t"             \
  "smlatb r1, r6, r9, r1\n\t"            \
  "smlabt r0, r8, r10, r0\n\t"           \
  "smlad r1, r8, r10, r1\n\t"            \
  "smlad r2, r8, r9, r2\n\t"             \
  "smlatb r3, r8, r9, r3\n\t"            \
  "ldrd r6, r8, [%[" R "], #-4]\n\t"     \
  "smlabt r2, r6, r10, r2\n\t"           \
  "smlad r3, r6, r10, r3\n\t"            \
  "smlad r4, r6, r9, r4\n\t"             \
  "smlatb r5, r6, r9, r5\n\t"            \
  "smlabt r4, r8, r10, r4\n\t"           \
  "smlad r5, r8, r10, r5\n\t"
/* The requantisation of one sum A: TM2_DWP_RQ_LOW with m in r6, hz in r8, e in r9 (TM2_DW6_LDE loads e), or, for
 * TM2_RQ_HIGHMUL_E of shift E (tm2_dw_plane_cols6_e<E>), m in r6, hz' in r8 and E in SSAT (no e to load): both
 * defined where the functions are. */
/* A group: the three filter rows, the requantisation, the six stores; o moves on six outputs. */
#define TM2_DW6_GROUP                                                                        \
  TM2_DW6_HEAD TM2_DW6_ROW("rb", "w2", "w3") TM2_DW6_ROW("rc", "w4", "w5")                   \
  "ldr r6, %[ms]\n\t"                                                                        \
  "ldr r8, %[hs]\n\t" TM2_DW6_LDE                                                            \
  "ldr r10, %[chm]\n\t" TM2_DW6_RQ("r0")                                                     \
  "strb r0, [%[o]]\n\t" TM2_DW6_RQ("r1") TM2_DW6_RQ("r2") TM2_DW6_RQ("r3") TM2_DW6_RQ("r4")  \
  "add r0, %[o], r10\n\t" TM2_DW6_RQ("r5")                                                   \
  "strb r1, [%[o], r10]\n\t"                                                                 \
  "strb r2, [%[o], r10, lsl #1]\n\t"                                                         \
  "strb r3, [r0, r10, lsl #1]\n\t"                                                           \
  "strb r4, [%[o], r10, lsl #2]\n\t"                                                         \
  "strb r5, [r0, r10, lsl #2]\n\t"                                                           \
  "add r6, r10, r10, lsl #1\n\t"                                                             \
  "add %[o], %[o], r6, lsl #1\n\t"
/* The last output of a column of 6k + 1 (taps t0 .. t2 at the row pointers), requantised and stored at o. */
#define TM2_DW6_ONE_ROW(R, WA, WB)       \
  "ldr r9, %[" WA "]\n\t"                \
  "ldr r10, %[" WB "]\n\t"               \
  "ldr r6, [%[" R "]]\n\t"               \
  "ldr r8, [%[" R "], #4]\n\t"           \
  "smlad r0, r6, r9, r0\n\t"             \
  "smlabt r0, r8, r10, r0\n\t"
#define TM2_DW6_ONE                                                                        \
  "ldr r0, %[bs]\n\t" TM2_DW6_ONE_ROW("ra", "w0", "w1") TM2_DW6_ONE_ROW("rb", "w2", "w3")  \
  TM2_DW6_ONE_ROW("rc", "w4", "w5")                                                        \
  "ldr r6, %[ms]\n\t"                                                                      \
  "ldr r8, %[hs]\n\t" TM2_DW6_LDE TM2_DW6_RQ("r0")                                                     \
  "strb r0, [%[o]]\n\t"
/* Every column of one channel: COLUMN (its groups and the last output), then the row pointers move radv bytes
 * on to the next plane column and o by oadv to the next column's first output. */
#define TM2_DW6_CHANNEL(COLUMN)                                                                          \
  __asm__ volatile(                                                                                      \
      "1:\n\t" COLUMN                                                                                    \
      "ldr r6, %[radv]\n\t"                                                                              \
      "ldr r8, %[oadv]\n\t"                                                                              \
      "ldr r9, %[cc]\n\t"                                                                                \
      "add %[ra], %[ra], r6\n\t"                                                                         \
      "add %[rb], %[rb], r6\n\t"                                                                         \
      "add %[rc], %[rc], r6\n\t"                                                                         \
      "add %[o], %[o], r8\n\t"                                                                           \
      "subs r9, r9, #1\n\t"                                                                              \
      "str r9, %[cc]\n\t"                                                                                \
      "bne 1b\n\t"                                                                                       \
      : [ra] "+r"(ra), [rb] "+r"(rb), [rc] "+r"(rc), [o] "+r"(o), [cc] "+m"(cc), [gend] "=m"(gend)       \
      : [w0] "m"(w[0]), [w1] "m"(w[1]), [w2] "m"(w[2]), [w3] "m"(w[3]), [w4] "m"(w[4]), [w5] "m"(w[5]),  \
        [bs] "m"(bs), [ms] "m"(ms), [hs] "m"(hs), [es] "m"(es), [chm] "m"(chm), [radv] "m"(radv),        \
        [oadv] "m"(oadv), [gb] "m"(gbytes)                                                               \
      : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory")

/* The group loop of a column: it ends where o reaches gend; with an even number of groups, two a pass. */
#define TM2_DW6_LOOP_START               \
  "ldr r6, %[gb]\n\t"                    \
  "add r6, %[o], r6\n\t"                 \
  "str r6, %[gend]\n"                    \
  "2:\n\t"
#define TM2_DW6_LOOP_END                 \
  "ldr r8, %[gend]\n\t"                  \
  "cmp %[o], r8\n\t"                     \
  "bne 2b\n\t"
#define TM2_DW6_LOOP(G) TM2_DW6_LOOP_START G TM2_DW6_LOOP_END
#define TM2_DW6_GROUPS_ODD TM2_DW6_LOOP(TM2_DW6_GROUP)
#define TM2_DW6_GROUPS_EVEN TM2_DW6_LOOP(TM2_DW6_GROUP TM2_DW6_GROUP)

/* Every output column of n channels with TM2_DW6 (arguments as tm2_dw_plane_cols_fast's, but the weights
 * packed (six words a channel, see tm2_dw_plane_weights) and the bias as given, or NULL; p->out_w: the
 * column's outputs, 6k or 6k + 1 with k > 0: the groups, then TM2_DW6_ONE). Aligned to 512 bytes, so that
 * where its loops fall among the counting emulator's 1 KB code pages (its blocks split there) does not move
 * with the code before it. E 0: TM2_RQ_HIGHMUL (tm2_dw_plane_cols6); otherwise TM2_RQ_HIGHMUL_E of shift E
 * (tm2_dw_plane_cols6_e<E>), the channel's scale applied to its weights and bias here (tm2_dw6_channel). Layers
 * whose constants the model code specialised run TM2_DW_PLANE_SPEC's loop instead (tm2_dw_plane6.h). */
#define TM2_DW_PLANE_COLS6(NAME, E)                                                                                 \
  __attribute__((noinline, aligned(512))) static void NAME(const tm2_dw3x3_packed_params *p, const int16_t *planes, \
                                                           int32_t n, int32_t rl2, int32_t ps2, int32_t ncols,      \
                                                           const uint32_t *weights, const int32_t *bias,            \
                                                           const tm2_rq *rq, int8_t *out, int32_t ostep) {          \
    const int32_t chm = p->channels, groups = p->out_w / 6, one = p->out_w % 6;                                     \
    const int32_t radv = rl2 - 12 * groups, gbytes = 6 * groups * chm, oadv = ostep - gbytes;                       \
    for (int32_t j = 0; j < n; ++j) {                                                                               \
      /* (the ten temporaries are named in the assembly; these four take the registers left) */                    \
      register const int8_t *ra __asm__("r7") = (const int8_t *)planes + (size_t)j * ps2;                           \
      register const int8_t *rb __asm__("r11") = ra + rl2;                                                          \
      register const int8_t *rc __asm__("r12") = rb + rl2;                                                          \
      register int8_t *o __asm__("lr") = out + j;                                                                   \
      uint32_t w[6];                                                                                                \
      int32_t bs, hs;                                                                                               \
      tm2_dw6_channel(weights + 6 * j, bias != NULL ? bias + j : NULL, rq + j, (E), w, &bs, &hs);                   \
      const int32_t ms = rq[j].mult, es = rq[j].sh;                                                                 \
      int32_t cc = ncols;                                                                                           \
      int8_t *gend; /* the column's groups end where o reaches it */                                                \
      if (groups == 1 && !one) {                                                                                    \
        TM2_DW6_CHANNEL(TM2_DW6_GROUP);                                                                             \
      } else if (groups & 1) {                                                                                      \
        if (one) {                                                                                                  \
          TM2_DW6_CHANNEL(TM2_DW6_GROUPS_ODD TM2_DW6_ONE);                                                          \
        } else {                                                                                                    \
          TM2_DW6_CHANNEL(TM2_DW6_GROUPS_ODD);                                                                      \
        }                                                                                                           \
      } else {                                                                                                      \
        if (one) {                                                                                                  \
          TM2_DW6_CHANNEL(TM2_DW6_GROUPS_EVEN TM2_DW6_ONE);                                                         \
        } else {                                                                                                    \
          TM2_DW6_CHANNEL(TM2_DW6_GROUPS_EVEN);                                                                     \
        }                                                                                                           \
      }                                                                                                             \
      (void)es;                                                                                                     \
    }                                                                                                               \
  }
#define TM2_DW6_LDE "ldr r9, %[es]\n\t"
#define TM2_DW6_RQ(A)                    \
  "smmlar " A ", " A ", r6, r8\n\t"      \
  "asr " A ", " A ", r9\n\t"             \
  "ssat " A ", #8, " A "\n\t"
TM2_DW_PLANE_COLS6(tm2_dw_plane_cols6, 0)
#undef TM2_DW6_LDE
#undef TM2_DW6_RQ
#define TM2_DW6_LDE
/* The shifts E of the TM2_RQ_HIGHMUL_E copies, X(E) each (tinym2net/ops/packing.py DW_RQ_SHIFTS): 12, the one
 * most depthwise layers of vww and kws take; each copy is about 3 KB of flash (E 10 .. 14 would save vww another
 * 16 K cycles for 12 KB more). */
#define TM2_DW_PLANE_RQ_SHIFTS(X) X(12)
#define TM2_DW6_RQ(A) "smmla " A ", " A ", r6, r8\n\t" "ssat " A ", #8, " A ", asr #" TM2_DW6_ESTR "\n\t"
#define TM2_DW6_COLS6_E(E) TM2_DW6_COLS6_E_(E)
/* TM2_DW6_ESTR: the E of the copy being defined, as a string */
#define TM2_DW6_COLS6_E_(E) TM2_DW_PLANE_COLS6(tm2_dw_plane_cols6_e##E, E)
#define TM2_DW6_ESTR "12"
TM2_DW6_COLS6_E(12)
#undef TM2_DW6_ESTR
#undef TM2_DW6_COLS6_E_
#undef TM2_DW6_COLS6_E
#undef TM2_DW6_RQ
#undef TM2_DW6_LDE

/* Columns of three outputs (stride 1, output offset -128, full int8 range), planes of six rows (a plane column:
 * three words): the channel's six weight words stay in r0 .. r5 for all its columns; per output column, the
 * three plane columns come by LDM (r8 .. r10, the row pointer ra stepping on one plane column each), six
 * multiply-accumulates each into r6, r11, r12 (the bias, in r12, as the first products' addend); the
 * requantisation entry then takes r8 .. r10. */
#define TM2_DW3_COL(WA, WB, SUM0, SUM1, SUM2)                  \
  "smlad r6, r8, " WA ", " SUM0 "\n\t"                          \
  "smlatb r11, r8, " WA ", " SUM1 "\n\t"                        \
  "smlabt r6, r9, " WB ", r6\n\t"                               \
  "smlad r11, r9, " WB ", r11\n\t"                              \
  "smlad r12, r9, " WA ", " SUM2 "\n\t"                         \
  "smlabt r12, r10, " WB ", r12\n\t"
#define TM2_DW3_RQ(A)                        \
  "smmlar " A ", " A ", r8, r9\n\t"         \
  "asr " A ", " A ", r10\n\t"               \
  "ssat " A ", #8, " A "\n\t"

/* Every output column of n channels with TM2_DW3 (arguments as tm2_dw_plane_cols6's; p->out_w: 3,
 * p->row_len: 6, a plane column 12 bytes). */
__attribute__((noinline)) static void tm2_dw_plane_cols3(const tm2_dw3x3_packed_params *p, const int16_t *planes,
                                                         int32_t n, int32_t ps2, int32_t ncols,
                                                         const uint32_t *weights, const int32_t *bias,
                                                         const tm2_rq *rq, int8_t *out, int32_t ostep) {
  const int32_t chm = p->channels;
  for (int32_t j = 0; j < n; ++j) {
    /* (the twelve temporaries are named in the assembly; these two take the registers left) */
    register const int8_t *ra __asm__("r7") = (const int8_t *)planes + (size_t)j * ps2;
    register int8_t *o __asm__("lr") = out + j;
    uint32_t w[6];
    tm2_dw_plane_weights(weights + 6 * j, w);
    const uint32_t *const wp = w;
    const int32_t bs = bias != NULL ? (int32_t)((uint32_t)bias[j] * 2u) : 0;
    const int32_t ms = rq[j].mult, hs = rq[j].hi, es = rq[j].sh;
    int32_t cc = ncols;
    __asm__ volatile(
        "ldr r8, %[wp]\n\t"
        "ldm r8, {r0, r1, r2, r3, r4, r5}\n"
        "1:\n\t"
        "ldr r12, %[bs]\n\t"
        "ldm %[ra]!, {r8, r9, r10}\n\t" TM2_DW3_COL("r0", "r1", "r12", "r12", "r12")
        "ldm %[ra]!, {r8, r9, r10}\n\t" TM2_DW3_COL("r2", "r3", "r6", "r11", "r12")
        "ldm %[ra], {r8, r9, r10}\n\t" TM2_DW3_COL("r4", "r5", "r6", "r11", "r12")
        "sub %[ra], %[ra], #12\n\t"
        "ldr r8, %[ms]\n\t"
        "ldr r9, %[hs]\n\t"
        "ldr r10, %[es]\n\t" TM2_DW3_RQ("r6") TM2_DW3_RQ("r11") TM2_DW3_RQ("r12")
        "ldr r8, %[chm]\n\t"
        "ldr r9, %[ost]\n\t"
        "strb r6, [%[o]]\n\t"
        "strb r11, [%[o], r8]\n\t"
        "strb r12, [%[o], r8, lsl #1]\n\t"
        "add %[o], %[o], r9\n\t"
        "ldr r10, %[cc]\n\t"
        "subs r10, r10, #1\n\t"
        "str r10, %[cc]\n\t"
        "bne 1b\n\t"
        : [ra] "+r"(ra), [o] "+r"(o), [cc] "+m"(cc)
        : [wp] "m"(wp), [bs] "m"(bs), [ms] "m"(ms), [hs] "m"(hs), [es] "m"(es), [chm] "m"(chm), [ost] "m"(ostep)
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
  }
}

/* One output row of channels c0 .. c0 + n - 1 with TM2_DWQ; rows[fy] are the quad's three slots. */
static void tm2_dw_quad_row_fast(const tm2_dw3x3_packed_params *p, const int16_t *const rows[3], int32_t n,
                                 const int32_t *weights, const int32_t *bias, const tm2_rq *rq, int8_t *out) {
  static const int32_t zero_bias[4] = {0, 0, 0, 0};
  const uint32_t *xa = (const uint32_t *)rows[0], *xb = (const uint32_t *)rows[1];
  const uint32_t *xc = (const uint32_t *)rows[2];
  const int32_t *wr = weights;
  const int32_t *bp = bias != NULL ? bias : zero_bias;
  const tm2_rq *qp = rq;
  int8_t *o;
  int32_t ch = p->channels;
  int32_t groups = p->out_w >> 2, tail = p->out_w & 3;
  if (p->stride == 1 && p->output_offset == -128 && tail == 1 && groups > 0) {
    --groups; /* the last group and the single last output go together (TM2_DWA_FIVE_LOW) */
    tail = 4;
  }
  int32_t gcount = 0;
  tm2_dwq_state st = {.gt = groups << 3 | tail, .radv = 2 * p->row_len - groups * (p->stride == 1 ? 8 : 16),
                      .cc = n, .op = out};
  tm2_dwq_state *stp = &st;
  uint32_t a0, a1, a2, a3, x0, x1, x2, wa, wb;
  int32_t slot[4]; /* operands of TM2_DWQX that this form does not use */
  if (p->output_offset == -128) {
    if (p->stride == 1) {
      TM2_DWQ(TM2_DWA_ROW_S1, TM2_DWA_ROW_S1_NW, TM2_DWA_ROW2_S1, TM2_DWA_RQ_LOW, TM2_DWA_FIVE_LOW);
    } else {
      TM2_DWQ(TM2_DWA_ROW_S2, TM2_DWA_ROW_S2_NW, TM2_DWA_ROW2_S2, TM2_DWA_RQ_LOW, "");
    }
  } else {
    if (p->stride == 1) {
      TM2_DWQ(TM2_DWA_ROW_S1, TM2_DWA_ROW_S1_NW, TM2_DWA_ROW2_S1, TM2_DWA_RQ_SIGNED, "");
    } else {
      TM2_DWQ(TM2_DWA_ROW_S2, TM2_DWA_ROW_S2_NW, TM2_DWA_ROW2_S2, TM2_DWA_RQ_SIGNED, "");
    }
  }
}
#endif

/* One output row of one channel (generic requantisation): out_w outputs at o, o + ch, ...; ra / rb / rc
 * are the channel's three transposed rows (tap 0 of output 0 at index 0), wc its six weight words. Groups
 * of four outputs share their tap words; the last out_w % 4 outputs go one by one. */
static void tm2_dw_channel_row(const tm2_dw3x3_packed_params *p, const int16_t *ra, const int16_t *rb,
                               const int16_t *rc, const int32_t *wc, int32_t bias, const tm2_rq *q, int8_t *o) {
  const int32_t ch = p->channels;
  const int32_t stride = p->stride;
  const int32_t out_w = p->out_w;
  const int32_t groups = out_w >> 2;
  const uint32_t *xa = (const uint32_t *)ra, *xb = (const uint32_t *)rb, *xc = (const uint32_t *)rc;
  const uint32_t wa0 = (uint32_t)wc[0], wb0 = (uint32_t)wc[1], wa1 = (uint32_t)wc[2], wb1 = (uint32_t)wc[3];
  const uint32_t wa2 = (uint32_t)wc[4], wb2 = (uint32_t)wc[5];
  const int32_t step = 2 * stride; /* words per group of four outputs */
  for (int32_t g = 0; g < groups; ++g, xa += step, xb += step, xc += step, o += 4 * ch) {
    int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    if (stride == 1) {
      TM2_DW_ROW4_S1(xa, wa0, wb0);
      TM2_DW_ROW4_S1(xb, wa1, wb1);
      TM2_DW_ROW4_S1(xc, wa2, wb2);
    } else {
      TM2_DW_ROW4_S2(xa, wa0, wb0);
      TM2_DW_ROW4_S2(xb, wa1, wb1);
      TM2_DW_ROW4_S2(xc, wa2, wb2);
    }
    o[0] = tm2_dw_out(p, a0, q);
    o[ch] = tm2_dw_out(p, a1, q);
    o[2 * ch] = tm2_dw_out(p, a2, q);
    o[3 * ch] = tm2_dw_out(p, a3, q);
  }
  for (int32_t x = 4 * groups; x < out_w; ++x, o += ch) {
    *o = tm2_dw_out(p, tm2_dw_one(ra, rb, rc, wc, x * stride, bias), q);
  }
}

/* Loops: channel quads (four channels, the last one possibly fewer), then output rows, then the quad's
 * channels. Each quad keeps a ring of three transposed input rows (slot iy % 3) and a fourth slot of
 * zeros for filter rows outside the input; an input row is transposed once per quad. */
void tm2_depthwise3x3_s8_packed(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output) {
  const int32_t ch = p->channels;
  const int32_t len = p->row_len;
  const int32_t stride = p->stride;
  const int32_t out_w = p->out_w;
  const size_t slot_elems = (size_t)tm2_min_i32(4, ch) * len; /* the channel rows of one quad */
  int16_t *slots = (int16_t *)scratch;
  const int16_t *zero_slot = slots + 3 * slot_elems;
#if TM2_CONV_USE_DSP
  const int fast = p->rq_mode == TM2_RQ_HIGHMUL && p->act_min == -128 && p->act_max == 127;
  if (TM2_DW_S2_APPLIES(p)) { /* stride 2: straight from the input, no transposed rows */
    tm2_depthwise3x3_s8_s2(p, input, weights, bias, rq, output);
    return;
  }
#endif
  memset(scratch, 0, TM2_DW3X3_SCRATCH(ch, len));
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * ch;
    int8_t *out_b = output + (size_t)b * p->out_h * out_w * ch;
    for (int32_t c0 = 0; c0 < ch; c0 += 4) {
      const int32_t n = tm2_min_i32(4, ch - c0);
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
            tm2_dw_transpose_quad(p, in_b + (size_t)iy * p->in_w * ch, c0, n, slot);
            held[s] = iy;
          }
          rows[fy] = slot;
        }
        int8_t *out_row = out_b + (size_t)oy * out_w * ch;
#if TM2_CONV_USE_DSP
        if (fast) {
          tm2_dw_quad_row_fast(p, rows, n, weights + (size_t)c0 * 6, bias != NULL ? bias + c0 : NULL, rq + c0,
                               out_row + c0);
          continue;
        }
#endif
        for (int32_t j = 0; j < n; ++j) {
          const int32_t c = c0 + j;
          const size_t r = (size_t)j * len;
          tm2_dw_channel_row(p, rows[0] + r, rows[1] + r, rows[2] + r, weights + (size_t)c * 6,
                             bias != NULL ? bias[c] : 0, &rq[c], out_row + c);
        }
      }
    }
  }
}

/* ------------------------------------------------------------------ depthwise 3x3, whole planes */

#if TM2_CONV_USE_DSP
/* tm2_dw_planes_transpose's column loop, in assembly (tm2_dw_planes_quad, tm2_dw_planes_pair): per input
 * column, HEAD (the (padding, row 0) pair, where pad_h is odd), the `pairs` pairs of rows (a single pair
 * first where their number is odd, two where it is 2 modulo 4, then four a pass: one loop test for four),
 * TAIL (the (last row, padding) pair, where the rows left are odd); one word store a channel and pair,
 * post-incremented (a plane column is contiguous). The padding lane is read from padm, bytes -input_offset,
 * which SXTAB16 turns into 0. Then the source moves sadv bytes on (from the rows it read to the next column's
 * row 0) and every destination cadv bytes (from the words it wrote to the next column's first), until
 * channel 0's destination reaches endm. */
#define TM2_DWT_LOOP(HEAD, PAIR, PAIR2, TAIL)                                                          \
  HEAD                                                                                                 \
  "ldr %[k], %[pm]\n\t"                                                                                \
  "lsrs %[k], %[k], #1\n\t" /* C: an odd pair first */                                                \
  "bcc 3f\n\t" PAIR                                                                                    \
  "3:\n\t"                                                                                             \
  "lsrs %[k], %[k], #1\n\t" /* k: passes of four pairs; C: two pairs first; Z: no pass */             \
  "bcc 5f\n\t" PAIR2                                                                                   \
  "5:\n\t"                                                                                             \
  "beq 4f\n"                                                                                           \
  "2:\n\t" PAIR2 PAIR2                                                                                 \
  "subs %[k], %[k], #1\n\t"                                                                            \
  "bne 2b\n"                                                                                           \
  "4:\n\t" TAIL

/* A channel quad: the words a (row r) and b (row r + 1) of four channels regrouped by PKHBT / PKHTB into the
 * bytes of channels 0, 1 (t) and 2, 3 (u) of both rows, whose even and odd bytes SXTAB16 widens, adding the
 * input offset: channel j's (row r, row r + 1) pair. */
#define TM2_DWT_QUAD_OUT                     \
  "pkhbt %[t], %[a], %[b], lsl #16\n\t"     \
  "pkhtb %[u], %[b], %[a], asr #16\n\t"     \
  "sxtab16 %[a], %[off2], %[t]\n\t"         \
  "sxtab16 %[b], %[off2], %[t], ror #8\n\t" \
  "sxtab16 %[t], %[off2], %[u]\n\t"         \
  "sxtab16 %[u], %[off2], %[u], ror #8\n\t" \
  "str %[a], [%[d0]], #4\n\t"               \
  "str %[b], [%[d1]], #4\n\t"               \
  "str %[t], [%[d2]], #4\n\t"               \
  "str %[u], [%[d3]], #4\n\t"
#define TM2_DWT_QUAD_PAIR                    \
  "ldr %[a], [%[s]]\n\t"                    \
  "ldr %[b], [%[s], %[row]]\n\t"            \
  "add %[s], %[s], %[row], lsl #1\n\t" TM2_DWT_QUAD_OUT
#define TM2_DWT_QUAD_HEAD "ldr %[a], %[padm]\n\t" "ldr %[b], [%[s]]\n\t" "add %[s], %[s], %[row]\n\t" TM2_DWT_QUAD_OUT
#define TM2_DWT_QUAD_TAIL "ldr %[a], [%[s]]\n\t" "ldr %[b], %[padm]\n\t" TM2_DWT_QUAD_OUT
#define TM2_DWT_QUAD(HEAD, TAIL) \
  TM2_DWT_QUAD_COLS(TM2_DWT_LOOP(HEAD, TM2_DWT_QUAD_PAIR, TM2_DWT_QUAD_PAIR TM2_DWT_QUAD_PAIR, TAIL))
/* The loop over the input columns, COLUMN writing one column's words. */
#define TM2_DWT_QUAD_COLS(COLUMN)                                                                      \
  __asm__ volatile(                                                                                    \
      "1:\n\t" COLUMN                                                                                  \
      "add %[s], %[s], %[sadv]\n\t"                                                                    \
      "add %[d0], %[d0], %[cadv]\n\t"                                                                  \
      "add %[d1], %[d1], %[cadv]\n\t"                                                                  \
      "add %[d2], %[d2], %[cadv]\n\t"                                                                  \
      "add %[d3], %[d3], %[cadv]\n\t"                                                                  \
      "ldr %[k], %[endm]\n\t"                                                                          \
      "cmp %[d0], %[k]\n\t"                                                                            \
      "bne 1b\n\t"                                                                                     \
      : [s] "+r"(s), [d0] "+r"(d0), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3), [k] "=&r"(k),        \
        [a] "=&r"(a), [b] "=&r"(b), [t] "=&r"(t), [u] "=&r"(u)                                         \
      : [row] "r"(row), [off2] "r"(off2), [sadv] "r"(sadv), [cadv] "r"(cadv), [padm] "m"(pad),         \
        [pm] "m"(pairs), [endm] "m"(end)                                                               \
      : "cc", "memory")

/* tm2_dw_planes_transpose for a channel quad (TM2_DWT_LOOP): src: row 0 of column 0 (channel c0), input rows
 * row bytes apart, columns ch; dst: the first pair's word of column 0 in plane 0; planes ps bytes apart,
 * columns colb bytes apart. */
__attribute__((noinline)) static void tm2_dw_planes_quad(const int8_t *src, int32_t row, int32_t ch, int32_t cols,
                                                     uint32_t off2, uint32_t pad, int32_t head, int32_t pairs,
                                                     int32_t tail, uint32_t *dst, int32_t colb, int32_t ps) {
  const int8_t *s = src;
  uint32_t *d0 = dst, *d1 = (uint32_t *)((int8_t *)d0 + ps), *d2 = (uint32_t *)((int8_t *)d1 + ps);
  uint32_t *d3 = (uint32_t *)((int8_t *)d2 + ps);
  const uint32_t *const end = (const uint32_t *)((const int8_t *)dst + (size_t)cols * colb);
  const int32_t sadv = ch - (head + 2 * pairs) * row, cadv = colb - 4 * (head + pairs + tail);
  uint32_t k, a, b, t, u;
  if (head && pairs == 2 && tail) { /* (6 rows, SAME padding: vww's 6 x 6 maps) straight through */
    TM2_DWT_QUAD_COLS(TM2_DWT_QUAD_HEAD TM2_DWT_QUAD_PAIR TM2_DWT_QUAD_PAIR TM2_DWT_QUAD_TAIL);
  } else if (head) {
    if (tail) {
      TM2_DWT_QUAD(TM2_DWT_QUAD_HEAD, TM2_DWT_QUAD_TAIL);
    } else {
      TM2_DWT_QUAD(TM2_DWT_QUAD_HEAD, "");
    }
  } else {
    if (tail) {
      TM2_DWT_QUAD("", TM2_DWT_QUAD_TAIL);
    } else {
      TM2_DWT_QUAD("", "");
    }
  }
}

/* A channel pair: the halfwords a (row r) and b (row r + 1) of two channels joined by PKHBT, whose even and
 * odd bytes SXTAB16 widens, adding the input offset: channel j's (row r, row r + 1) pair. */
#define TM2_DWT_PAIR_OUT(A, B)                          \
  "pkhbt %[" A "], %[" A "], %[" B "], lsl #16\n\t"    \
  "sxtab16 %[" B "], %[off2], %[" A "], ror #8\n\t"    \
  "sxtab16 %[" A "], %[off2], %[" A "]\n\t"            \
  "str %[" A "], [%[d0]], #4\n\t"                      \
  "str %[" B "], [%[d1]], #4\n\t"
#define TM2_DWT_PAIR_PAIR                    \
  "ldrh %[a], [%[s]]\n\t"                   \
  "ldrh %[b], [%[s], %[row]]\n\t"           \
  "add %[s], %[s], %[row], lsl #1\n\t" TM2_DWT_PAIR_OUT("a", "b")
/* two pairs: four halfword loads in a run */
#define TM2_DWT_PAIR_PAIR2                   \
  "ldrh %[a], [%[s]]\n\t"                   \
  "ldrh %[b], [%[s], %[row]]\n\t"           \
  "ldrh %[c], [%[s], %[row], lsl #1]\n\t"   \
  "ldrh %[e], [%[s], %[row3]]\n\t"          \
  "add %[s], %[s], %[row], lsl #2\n\t" TM2_DWT_PAIR_OUT("a", "b") TM2_DWT_PAIR_OUT("c", "e")
#define TM2_DWT_PAIR_HEAD "ldr %[a], %[padm]\n\t" "ldrh %[b], [%[s]]\n\t" "add %[s], %[s], %[row]\n\t" TM2_DWT_PAIR_OUT("a", "b")
#define TM2_DWT_PAIR_TAIL "ldrh %[a], [%[s]]\n\t" "ldr %[b], %[padm]\n\t" TM2_DWT_PAIR_OUT("a", "b")
#define TM2_DWT_PAIR(HEAD, TAIL)                                                                       \
  __asm__ volatile(                                                                                    \
      "1:\n\t" TM2_DWT_LOOP(HEAD, TM2_DWT_PAIR_PAIR, TM2_DWT_PAIR_PAIR2, TAIL)                        \
      "add %[s], %[s], %[sadv]\n\t"                                                                    \
      "add %[d0], %[d0], %[cadv]\n\t"                                                                  \
      "add %[d1], %[d1], %[cadv]\n\t"                                                                  \
      "ldr %[k], %[endm]\n\t"                                                                          \
      "cmp %[d0], %[k]\n\t"                                                                            \
      "bne 1b\n\t"                                                                                     \
      : [s] "+r"(s), [d0] "+r"(d0), [d1] "+r"(d1), [k] "=&r"(k), [a] "=&r"(a), [b] "=&r"(b),          \
        [c] "=&r"(c), [e] "=&r"(e)                                                                     \
      : [row] "r"(row), [row3] "r"(3 * row), [off2] "r"(off2), [sadv] "r"(sadv), [cadv] "r"(cadv),     \
        [padm] "m"(pad), [pm] "m"(pairs), [endm] "m"(end)                                              \
      : "cc", "memory")

/* The same for a channel pair (its two planes ps bytes apart). */
__attribute__((noinline)) static void tm2_dw_planes_pair(const int8_t *src, int32_t row, int32_t ch, int32_t cols,
                                                     uint32_t off2, uint32_t pad, int32_t head, int32_t pairs,
                                                     int32_t tail, uint32_t *dst, int32_t colb, int32_t ps) {
  const int8_t *s = src;
  uint32_t *d0 = dst, *d1 = (uint32_t *)((int8_t *)d0 + ps);
  const uint32_t *const end = (const uint32_t *)((const int8_t *)dst + (size_t)cols * colb);
  const int32_t sadv = ch - (head + 2 * pairs) * row, cadv = colb - 4 * (head + pairs + tail);
  uint32_t k, a, b, c, e;
  if (head) {
    if (tail) {
      TM2_DWT_PAIR(TM2_DWT_PAIR_HEAD, TM2_DWT_PAIR_TAIL);
    } else {
      TM2_DWT_PAIR(TM2_DWT_PAIR_HEAD, "");
    }
  } else {
    if (tail) {
      TM2_DWT_PAIR("", TM2_DWT_PAIR_TAIL);
    } else {
      TM2_DWT_PAIR("", "");
    }
  }
}
#endif

#if TM2_CONV_USE_DSP
/* One input column of one channel into its plane column (as tm2_dw_planes_transpose): src, the channel's byte of
 * the column's row 0, rows row bytes apart; wa, the word of the column's first row pair (an even element);
 * head, pairs, tail: a first pair of (padding, row 0), the pairs of rows, a last pair of (last row, padding);
 * off2: the input offset in both halves (the padding lanes stay zero). */
static inline void tm2_dw_plane_column1(const int8_t *src, size_t row, uint32_t *wa, int32_t head, int32_t pairs,
                                        int32_t tail, uint32_t off2) {
  if (head) {
    *wa++ = __sxtab16(off2 & 0xFFFF0000u, (uint32_t)(uint8_t)src[0] << 16);
    src += row;
  }
  int32_t k = 0;
  for (; k + 2 <= pairs; k += 2, src += 4 * row) { /* four rows: four byte loads in a run */
    const uint32_t b0 = (uint8_t)src[0], b1 = (uint8_t)src[row], b2 = (uint8_t)src[2 * row];
    const uint32_t b3 = (uint8_t)src[3 * row];
    wa[0] = __sxtab16(off2, b0 | b1 << 16);
    wa[1] = __sxtab16(off2, b2 | b3 << 16);
    wa += 2;
  }
  if (k < pairs) {
    *wa++ = __sxtab16(off2, (uint32_t)(uint8_t)src[0] | (uint32_t)(uint8_t)src[row] << 16);
    src += 2 * row;
  }
  if (tail) *wa = __sxtab16(off2 & 0xFFFFu, (uint32_t)(uint8_t)src[0]);
}
#endif

/* Channels c0 .. c0 + n - 1 of the input into their planes (column-major, see tm2_depthwise3x3_s8_planes):
 * planes[j * pstride + (ix + pad_w) * L + iy + pad_h] = input[iy][ix][c0 + j] + input_offset. A plane column
 * is contiguous, so with the DSP extension two input rows go at once: one word store of an int16 pair per
 * channel (SXTAB16 adds the offset to both lanes; PKHBT / PKHTB pair the lanes of two pixels). The pairs
 * start at an even element (word-aligned); where that is the padding row above the input (pad_h odd), or
 * the one below it (an odd number of rows left), that lane is written as zero -- it is padding. */
static void tm2_dw_planes_transpose(const tm2_dw3x3_packed_params *p, const int8_t *in, int32_t c0, int32_t n,
                                    int16_t *planes) {
  const int32_t ch = p->channels, len = p->plane_len, in_h = p->in_h, in_w = p->in_w, off = p->input_offset;
  const size_t ps = (size_t)p->plane_cols * len;
  const size_t row = (size_t)in_w * ch; /* input bytes from one row to the next */
  int16_t *const base = planes + (size_t)p->pad_w * len + p->pad_h;
#if TM2_CONV_USE_DSP
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int32_t head = p->pad_h & 1;                         /* 1: the first pair is (padding, row 0) */
  const int32_t pairs = (in_h - head) >> 1;                  /* pairs of input rows */
  const int32_t tail = (in_h - head) & 1;                    /* 1: the last pair is (last row, padding) */
  int16_t *const ebase = base - head;                        /* an even element */
  /* the padding lane's bytes: -input_offset, an int8 for every int8 zero point */
  const int pad_ok = off >= -127 && off <= 128;
  const uint32_t pad = (uint32_t)(uint8_t)(int8_t)-off * 0x01010101u;
  if (pad_ok && n == 4 && ((ch | c0) & 3) == 0) {
    tm2_dw_planes_quad(in + c0, (int32_t)row, ch, in_w, off2, pad, head, pairs, tail, (uint32_t *)ebase, 2 * len,
                       (int32_t)(2 * ps));
    return;
  }
  if (pad_ok && n == 2 && (c0 & 1) == 0) {
    tm2_dw_planes_pair(in + c0, (int32_t)row, ch, in_w, off2, pad, head, pairs, tail, (uint32_t *)ebase, 2 * len,
                       (int32_t)(2 * ps));
    return;
  }
  if (n <= 2) {
    const uint32_t offh = (uint32_t)off << 16, offl = (uint32_t)off & 0xFFFFu; /* one lane's offset */
    for (int32_t j0 = 0; j0 < n; j0 += 2) {
      const int32_t two = n - j0 == 2;
      for (int32_t ix = 0; ix < in_w; ++ix) {
        const int8_t *src = in + (size_t)ix * ch + c0 + j0;
        uint32_t *wa = (uint32_t *)(ebase + (size_t)j0 * ps + (size_t)ix * len);
        uint32_t *wb = (uint32_t *)((int16_t *)wa + ps);
        if (two) {
          if (head) { /* bytes 2, 3: channels j0, j0 + 1 of row 0; bytes 0, 1 zero */
            uint16_t a;
            memcpy(&a, src, 2);
            const uint32_t t = (uint32_t)a << 16;
            *wa++ = __sxtab16(offh, t), *wb++ = tm2_sxtab16_ror8(offh, t);
            src += row;
          }
          int32_t k = 0;
          for (; k + 2 <= pairs; k += 2, src += 4 * row) { /* four rows: four halfword loads in a run */
            uint16_t a, b, c, e;
            memcpy(&a, src, 2);
            memcpy(&b, src + row, 2);
            memcpy(&c, src + 2 * row, 2);
            memcpy(&e, src + 3 * row, 2);
            const uint32_t t = (uint32_t)a | (uint32_t)b << 16; /* bytes: c0 row iy, c1, c0 row iy + 1, c1 */
            const uint32_t u = (uint32_t)c | (uint32_t)e << 16;
            wa[0] = __sxtab16(off2, t), wb[0] = tm2_sxtab16_ror8(off2, t);
            wa[1] = __sxtab16(off2, u), wb[1] = tm2_sxtab16_ror8(off2, u);
            wa += 2, wb += 2;
          }
          if (k < pairs) {
            uint16_t a, b;
            memcpy(&a, src, 2);
            memcpy(&b, src + row, 2);
            const uint32_t t = (uint32_t)a | (uint32_t)b << 16;
            *wa++ = __sxtab16(off2, t), *wb++ = tm2_sxtab16_ror8(off2, t);
            src += 2 * row;
          }
          if (tail) {
            uint16_t a;
            memcpy(&a, src, 2);
            *wa = __sxtab16(offl, a), *wb = tm2_sxtab16_ror8(offl, a);
          }
        } else {
          tm2_dw_plane_column1(src, row, wa, head, pairs, tail, off2);
        }
      }
    }
    return;
  }
#endif
  for (int32_t iy = 0; iy < in_h; ++iy) {
    const int8_t *src = in + (size_t)iy * row + c0;
    int16_t *d = base + iy;
    for (int32_t ix = 0; ix < in_w; ++ix, src += ch, d += len) {
      for (int32_t j = 0; j < n; ++j) d[(size_t)j * ps] = (int16_t)(src[j] + off);
    }
  }
}

#if TM2_CONV_USE_DSP
/* 3 x 3 maps of stride 1 and SAME padding (TM2_DW3S_APPLIES), one channel at a time straight from the input: no
 * planes, no scratch; the loop over the channels in the assembly, its pointers (input, output, weights, bias,
 * requantisation entry) moved on in stack slots. A channel's nine inputs are read first (nine LDRB), so that its
 * outputs may overwrite them (in place). Input row iy (bytes v0, v1, v2 of columns 0 .. 2) becomes two int16 pair
 * words X = (v0, v1) and Y = (v1, v2) (PKHBT, SXTAB16 adding the input offset), doubled (SADD16: the
 * requantisation takes doubled sums, TM2_DWP; the bias doubled too), all six in r0 .. r5. Output row oy takes the
 * filter rows fy whose input row oy - 1 + fy is inside the map (the padding rows skipped), each against the
 * channel's packed words a = (w0, w1), b = (w1, w2) of row fy: the padding columns fall out of the pairs, four
 * multiplies for the row's three outputs (input columns -1 .. 1: X . b; 0 .. 2: X . a + v2 w2; 1 .. 3: Y . a).
 * The sums start from the bias and take TM2_RQ_HIGHMUL as tm2_dw_plane_cols3 does. Pixels are ch bytes apart in
 * the input and the output. */
#define TM2_DW3S_ROW(FY, FIRST, X, Y)          \
  "ldr r10, [%[w], #(8 * " FY ")]\n\t"         \
  "ldr r11, [%[w], #(8 * " FY " + 4)]\n\t"     \
  ".if " FIRST "\n\t"                          \
  "smlad r6, " X ", r11, r12\n\t"              \
  "smlad r8, " X ", r10, r12\n\t"              \
  "smlad r9, " Y ", r10, r12\n\t"              \
  ".else\n\t"                                  \
  "smlad r6, " X ", r11, r6\n\t"               \
  "smlad r8, " X ", r10, r8\n\t"               \
  "smlad r9, " Y ", r10, r9\n\t"               \
  ".endif\n\t"                                 \
  "smlatt r8, " Y ", r11, r8\n\t"
#define TM2_DW3S_RQ(A)                  \
  "smmlar " A ", " A ", r10, r11\n\t"   \
  "asr " A ", " A ", r12\n\t"           \
  "ssat " A ", #8, " A "\n\t"
/* The requantisation of an output row's sums r6, r8, r9, their stores at o, o + ch, o + 2 ch, o on by 3 ch */
#define TM2_DW3S_STORE                                                      \
  "ldr r10, %[ms]\n\t"                                                      \
  "ldr r11, %[hs]\n\t"                                                      \
  "ldr r12, %[es]\n\t" TM2_DW3S_RQ("r6") TM2_DW3S_RQ("r8") TM2_DW3S_RQ("r9") \
  "ldr r10, %[ch]\n\t"                                                      \
  "ldr r11, %[ch3]\n\t"                                                     \
  "strb r6, [%[o]]\n\t"                                                     \
  "strb r8, [%[o], r10]\n\t"                                                \
  "strb r9, [%[o], r10, lsl #1]\n\t"                                        \
  "add %[o], %[o], r11\n\t"
/* Input row iy's words from its bytes A, B, C (clobbered) into X, Y, doubled; r12 holds the offset in both lanes */
#define TM2_DW3S_PAIRS(A, B, C, X, Y)        \
  "pkhbt " B ", " B ", " C ", lsl #16\n\t"  \
  "pkhbt " A ", " A ", " B ", lsl #16\n\t"  \
  "sxtab16 " X ", r12, " A "\n\t"           \
  "sxtab16 " Y ", r12, " B "\n\t"           \
  "sadd16 " X ", " X ", " X "\n\t"          \
  "sadd16 " Y ", " Y ", " Y "\n\t"

/* Whether tm2_dw3x3_s8_small3 takes a layer: 3 x 3 maps in and out, stride 1, padding 1, TM2_RQ_HIGHMUL of output
 * offset -128 and the full int8 range (as tm2_dw_plane_cols3), the output on the input (in place) or apart. */
#define TM2_DW3S_APPLIES(p, in, out)                                                                             \
  ((p)->in_h == 3 && (p)->in_w == 3 && (p)->out_h == 3 && (p)->out_w == 3 && (p)->stride == 1 &&               \
   (p)->pad_h == 1 && (p)->pad_w == 1 && (p)->rq_mode == TM2_RQ_HIGHMUL && (p)->output_offset == -128 &&         \
   (p)->act_min == -128 && (p)->act_max == 127 &&                                                               \
   ((in) == (out) || (out) + (size_t)9 * (p)->channels * (p)->batches <= (in) ||                                \
    (in) + (size_t)9 * (p)->channels * (p)->batches <= (out)))

__attribute__((noinline)) static void tm2_dw3x3_s8_small3(const tm2_dw3x3_packed_params *p, const int8_t *input,
                                                          const uint32_t *weights, const int32_t *bias,
                                                          const tm2_rq *rq, int8_t *output) {
  const int32_t ch = p->channels, ch3 = 3 * ch, off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  const int32_t zero = 0;                        /* the bias of a layer without (bstep 0) */
  const int32_t bstep = bias != NULL ? 4 : 0;
  const uint32_t *const wend = weights + 6 * ch; /* the loop's end: channel ch's weights */
  if (ch <= 0) return;
  for (int32_t b = 0; b < p->batches; ++b) {
    /* the channel loop's pointers (moved on a channel in the assembly) and the channel's stack slots */
    const int8_t *inp = input + (size_t)b * 9 * ch;
    int8_t *op = output + (size_t)b * 9 * ch;
    const uint32_t *wp = weights;
    const int32_t *bp = bias != NULL ? bias : &zero;
    const tm2_rq *qp = rq;
    int32_t bs, ms, hs, es;
    /* (the twelve temporaries are named in the assembly; these two take the registers left) */
    register const uint32_t *w __asm__("r7");
    register int8_t *o __asm__("lr");
    __asm__ volatile(
        "1:\n\t"
        "ldr r0, %[qp]\n\t"
        "ldr r1, %[bp]\n\t"
        "ldr %[w], %[inp]\n\t" /* w: the input from here to the LDRB */
        "ldr r2, [r0]\n\t"
        "ldr r3, [r0, #4]\n\t"
        "ldr r4, [r0, #12]\n\t"
        "ldr r5, [r1]\n\t"
        "ldr r10, %[ch]\n\t"
        "ldr r11, %[ch3]\n\t"
        "ldr r12, %[bstep]\n\t"
        "ldr %[o], %[op]\n\t"
        "add r0, r0, #16\n\t"
        "add r1, r1, r12\n\t"
        "add r12, %[o], #1\n\t"
        "str r0, %[qp]\n\t"
        "str r1, %[bp]\n\t"
        "str r12, %[op]\n\t"
        "str r2, %[ms]\n\t"
        "str r3, %[hs]\n\t"
        "str r4, %[es]\n\t"
        "lsls r5, r5, #1\n\t"
        "str r5, %[bs]\n\t"
        "add r12, %[w], r11\n\t" /* input row 1 */
        "add r6, r12, r11\n\t"   /* input row 2 */
        "ldrb r0, [%[w]]\n\t"
        "ldrb r1, [%[w], r10]\n\t"
        "ldrb r2, [%[w], r10, lsl #1]\n\t"
        "ldrb r3, [r12]\n\t"
        "ldrb r4, [r12, r10]\n\t"
        "ldrb r5, [r12, r10, lsl #1]\n\t"
        "ldrb r8, [r6]\n\t"
        "ldrb r9, [r6, r10]\n\t"
        "ldrb r11, [r6, r10, lsl #1]\n\t"
        "ldr r12, %[off2]\n\t"
        "add r10, %[w], #1\n\t"
        "str r10, %[inp]\n\t"
        "ldr %[w], %[wp]\n\t" TM2_DW3S_PAIRS("r0", "r1", "r2", "r0", "r1")
        TM2_DW3S_PAIRS("r3", "r4", "r5", "r2", "r3") TM2_DW3S_PAIRS("r8", "r9", "r11", "r4", "r5")
        /* output row 0: input rows 0, 1 (filter rows 1, 2) */
        "ldr r12, %[bs]\n\t" TM2_DW3S_ROW("1", "1", "r0", "r1") TM2_DW3S_ROW("2", "0", "r2", "r3") TM2_DW3S_STORE
        /* output row 1: input rows 0 .. 2 */
        "ldr r12, %[bs]\n\t" TM2_DW3S_ROW("0", "1", "r0", "r1") TM2_DW3S_ROW("1", "0", "r2", "r3")
        TM2_DW3S_ROW("2", "0", "r4", "r5") TM2_DW3S_STORE
        /* output row 2: input rows 1, 2 (filter rows 0, 1) */
        "ldr r12, %[bs]\n\t" TM2_DW3S_ROW("0", "1", "r2", "r3") TM2_DW3S_ROW("1", "0", "r4", "r5") TM2_DW3S_STORE
        "add %[w], %[w], #24\n\t"
        "ldr r0, %[wend]\n\t"
        "str %[w], %[wp]\n\t"
        "cmp %[w], r0\n\t"
        "bne 1b\n\t"
        : [w] "=&r"(w), [o] "=&r"(o), [inp] "+m"(inp), [op] "+m"(op), [wp] "+m"(wp), [bp] "+m"(bp), [qp] "+m"(qp),
          [bs] "=m"(bs), [ms] "=m"(ms), [hs] "=m"(hs), [es] "=m"(es)
        : [bstep] "m"(bstep), [wend] "m"(wend), [ch] "m"(ch), [ch3] "m"(ch3), [off2] "m"(off2)
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
  }
}
#endif

#if TM2_CONV_USE_DSP
/* The column loop of spec where it was built for this layer (stride 1, TM2_RQ_HIGHMUL, output offset -128, the
 * full int8 range, columns of 6k or 6k + 1 outputs, and every constant of the loop: E, chm, rl2, rows, columns),
 * else NULL; and in *tr the spec's transpose where that was built for this layer's input and channels a call
 * (as tm2_dw_planes_transpose: a channel quad of channels a multiple of four, an int8 padding byte), else NULL. */
static tm2_dw6_cols tm2_dw_spec_parts(const tm2_dw3x3_packed_params *p, const tm2_rq *rq, const tm2_dw6_spec *spec,
                                      tm2_dw6_tr *tr, int *own) {
  const int32_t ch = p->channels, len = p->plane_len, pc = p->plane_ch, off = p->input_offset;
  *tr = NULL;
  *own = 0;
  if (spec == NULL || p->stride != 1 || p->rq_mode != TM2_RQ_HIGHMUL || p->act_min != -128 || p->act_max != 127 ||
      p->output_offset != -128 || p->out_h < 6 || p->out_h % 6 > 1) {
    return NULL;
  }
  /* (a records loop's E is in its records: the generator took it for this layer's) */
  if ((!spec->rec && spec->e != (int32_t)rq[0].lo) || spec->chm != p->out_w * ch || spec->rl2 != 2 * len || spec->rows != p->out_h ||
      (spec->ncols != 0 && spec->ncols != p->out_w)) {
    return NULL;
  }
  /* unrolled or peeled columns on the descriptor's input columns skip their padding (TM2_DW_PLANE_SPEC): only
   * those */
  if ((spec->ncols != 0 || TM2_DW6S_PEEL(spec->rec, spec->ncols, spec->chm, spec->row, spec->ch)) && spec->ch != 0 &&
      (spec->ch != ch || spec->row != p->in_w * ch || 2 * p->pad_w != p->out_w + 2 - p->in_w)) {
    return NULL;
  }
  if (TM2_DW6T_BUILT(spec->in_h, spec->head, spec->ps, spec->g) && spec->in_h == p->in_h &&
      spec->head == (p->pad_h & 1) && spec->ch == ch && spec->row == p->in_w * ch &&
      spec->ps == 2 * p->plane_cols * len && spec->g == pc && (pc == 2 || (ch & 3) == 0) && off >= -127 && off <= 128) {
    *tr = spec->tr;
    *own = spec->rec;
  }
  return spec->cols;
}
#endif

void tm2_depthwise3x3_s8_planes(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output) {
  tm2_depthwise3x3_s8_planes_spec(p, input, weights, bias, rq, scratch, output, NULL);
}

void tm2_depthwise3x3_s8_planes_spec(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                     const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output,
                                     const tm2_dw6_spec *spec) {
  const int32_t ch = p->channels, len = p->plane_len, s = p->stride, out_w = p->out_w;
  const int32_t pc = p->plane_ch;
  const size_t ps = (size_t)p->plane_cols * len;
  int16_t *const planes = (int16_t *)scratch;
  if (spec != NULL && spec->rec) { /* (a loop on records runs only through tm2_depthwise3x3_s8_planes_whole) */
    spec = NULL;
  }
  /* the packed kernel's view: a "row" is one output column of out_h outputs, out_w * ch bytes apart; the
   * rows of consecutive channels are one plane apart */
  tm2_dw3x3_packed_params q = *p;
  q.channels = out_w * ch;
  q.out_w = p->out_h;
  q.row_len = s * len; /* the assembly: one output column to the next (C: one channel's plane to the next) */
#if TM2_CONV_USE_DSP
  const int fast = p->rq_mode == TM2_RQ_HIGHMUL && p->act_min == -128 && p->act_max == 127;
#else
  const int fast = 0;
#endif
  const int32_t k = fast ? 2 : 1; /* the assembly takes weights and biases pre-doubled (TM2_DWP) */
#if TM2_CONV_USE_DSP
  if (TM2_DW_S2_APPLIES(p)) { /* stride 2: straight from the input, no planes */
    tm2_depthwise3x3_s8_s2(p, input, weights, bias, rq, output);
    return;
  }
  if (TM2_DW3S_APPLIES(p, input, output)) { /* 3 x 3 maps: straight from the input, no planes */
    tm2_dw3x3_s8_small3(p, input, (const uint32_t *)weights, bias, rq, output);
    return;
  }
  /* 1: columns of 6k or 6k + 1 outputs at stride 1, output offset -128 (tm2_dw_plane_cols6); 2: columns of three
   * outputs at stride 1, planes of six rows, output offset -128 (tm2_dw_plane_cols3); 0: neither */
  const int cols = !fast || s != 1 || p->output_offset != -128 ? 0
                   : p->out_h >= 6 && p->out_h % 6 <= 1   ? 1
                   : p->out_h == 3 && len == 6             ? 2
                                                           : 0;
  /* TM2_RQ_HIGHMUL_E's shift E of tm2_dw_plane_cols6_e<E> (the third word of the entries; 0: none) */
  const int32_t rqe = cols == 1 ? (int32_t)rq[0].lo : 0;
  /* the specialised column loop and transpose where they were built for this layer */
  tm2_dw6_tr tr = NULL;
  int own; /* (no records loop here) */
  const tm2_dw6_cols scols = cols == 1 ? tm2_dw_spec_parts(p, rq, spec, &tr, &own) : NULL;
  const int32_t off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  uint32_t *const ebase = (uint32_t *)(planes + (size_t)p->pad_w * len + p->pad_h - (p->pad_h & 1));
#else
  (void)spec;
#endif
  memset(scratch, 0, TM2_DW3X3_PLANES_SCRATCH(pc, p->plane_cols, len));
  int32_t wt[4 * 6]; /* the group's weights, filter transposed: per column fx, (w0x, w1x), (w1x, w2x) */
  int32_t bd[4];     /* the group's biases (times k) */
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * ch;
    int8_t *out_b = output + (size_t)b * p->out_h * out_w * ch;
#if TM2_CONV_USE_DSP
    /* the specialised column loop's arguments */
    const tm2_dw6_args sa = {planes, (int32_t)(2 * ps), out_w, (const uint32_t *)weights, bias, rq, out_b, ch,
                             NULL, NULL, 0, 0};
#endif
    for (int32_t c0 = 0; c0 < ch; c0 += pc) {
      const int32_t n = tm2_min_i32(pc, ch - c0);
#if TM2_CONV_USE_DSP
      if (tr != NULL && n == pc) {
        tr(in_b + c0, ebase, off2, p->in_w);
      } else {
        tm2_dw_planes_transpose(p, in_b, c0, n, planes);
      }
#else
      tm2_dw_planes_transpose(p, in_b, c0, n, planes);
#endif
#if TM2_CONV_USE_DSP
      if (cols) { /* (these prepare each channel's weights and bias themselves) */
        const uint32_t *const wg = (const uint32_t *)weights + (size_t)c0 * 6;
        const int32_t *const bg = bias != NULL ? bias + c0 : NULL;
        if (scols != NULL) {
          scols(&sa, c0, n);
        } else if (cols == 2) {
          tm2_dw_plane_cols3(&q, planes, n, (int32_t)(2 * ps), out_w, wg, bg, rq + c0, out_b + c0, ch);
        } else {
          switch (rqe) {
#define TM2_DW6_CASE(E)                                                                                     \
  case E:                                                                                                   \
    tm2_dw_plane_cols6_e##E(&q, planes, n, 2 * len, (int32_t)(2 * ps), out_w, wg, bg, rq + c0, out_b + c0, ch); \
    break;
            TM2_DW_PLANE_RQ_SHIFTS(TM2_DW6_CASE)
#undef TM2_DW6_CASE
            default:
              tm2_dw_plane_cols6(&q, planes, n, 2 * len, (int32_t)(2 * ps), out_w, wg, bg, rq + c0, out_b + c0, ch);
          }
        }
        continue;
      }
#endif
      for (int32_t j = 0; j < n; ++j) {
        const uint32_t *wc = (const uint32_t *)weights + (size_t)(c0 + j) * 6;
#if TM2_CONV_USE_DSP
        if (fast) {
          tm2_dw_plane_weights(wc, (uint32_t *)wt + 6 * j);
          bd[j] = bias != NULL ? (int32_t)((uint32_t)bias[c0 + j] * 2u) : 0;
          continue;
        }
#endif
        uint32_t w[3][3]; /* [fy][fx], times k, as int16 bit patterns */
        for (int32_t fy = 0; fy < 3; ++fy) {
          w[fy][0] = (uint32_t)(k * (int16_t)(wc[2 * fy] & 0xFFFFu)) & 0xFFFFu;
          w[fy][1] = (uint32_t)(k * (int16_t)(wc[2 * fy] >> 16)) & 0xFFFFu;
          w[fy][2] = (uint32_t)(k * (int16_t)(wc[2 * fy + 1] >> 16)) & 0xFFFFu;
        }
        int32_t *t = wt + 6 * j;
        for (int32_t fx = 0; fx < 3; ++fx) {
          t[2 * fx] = (int32_t)(w[0][fx] | w[1][fx] << 16);
          t[2 * fx + 1] = (int32_t)(w[1][fx] | w[2][fx] << 16);
        }
        bd[j] = bias != NULL ? (int32_t)((uint32_t)bias[c0 + j] * (uint32_t)k) : 0;
      }
#if TM2_CONV_USE_DSP
      if (fast) { /* every output column of the group's channels in one run of the assembly */
        tm2_dw_plane_cols_fast(&q, planes, n, 2 * len, (int32_t)(2 * ps), out_w, wt, bd, rq + c0, out_b + c0, ch);
        continue;
      }
#endif
      for (int32_t ox = 0; ox < out_w; ++ox) {
        const int16_t *col = planes + (size_t)ox * s * len;
        int8_t *o = out_b + (size_t)ox * ch + c0;
        for (int32_t j = 0; j < n; ++j) {
          const int16_t *r = col + (size_t)j * ps;
          tm2_dw_channel_row(&q, r, r + len, r + 2 * len, wt + 6 * j, bd[j], &rq[c0 + j], o + j);
        }
      }
    }
  }
}

void tm2_depthwise3x3_s8_planes_small3(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                       const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output) {
#if TM2_CONV_USE_DSP
  if (!TM2_DW3S_APPLIES(p, input, output)) __builtin_trap(); /* a layer the generator should not have sent here */
  (void)scratch;
  tm2_dw3x3_s8_small3(p, input, (const uint32_t *)weights, bias, rq, output);
#else
  tm2_depthwise3x3_s8_planes(p, input, weights, bias, rq, scratch, output);
#endif
}

#if TM2_CONV_USE_DSP
/* Input row s of one channel of tm2_depthwise3x3_s8_4x4 (four bytes ch apart) as the int16 pairs (v0, v1) and
 * (v2, v3), the input offset added (SXTAB16 on both lanes) and doubled (the requantisation takes doubled sums). */
static inline void tm2_dw_c4_row(const int8_t *s, int32_t ch, uint32_t off2, uint32_t *x, uint32_t *z) {
  const uint32_t b0 = (uint8_t)s[0], b1 = (uint8_t)s[ch], b2 = (uint8_t)s[2 * ch], b3 = (uint8_t)s[3 * ch];
  const uint32_t u = __sxtab16(off2, b0 | b1 << 16), v = __sxtab16(off2, b2 | b3 << 16);
  *x = __sadd16(u, u);
  *z = __sadd16(v, v);
}

/* One filter row's packed words A = (w0, w1), B = (w1, w2) on an input row X = (v0, v1), Z = (v2, v3) into the
 * sums s0 .. s3 of the row's four outputs (input columns -1 .. 1, 0 .. 2, 1 .. 3, 2 .. 4; columns -1 and 4 are
 * padding and drop out): s0 += X.B, s1 += X.A + v2 w2, s2 += Z.B + v1 w0, s3 += Z.A. */
#define TM2_DW_C4_MACS(X, Z, A, B)             \
  do {                                         \
    s0 = (int32_t)__smlad((X), (B), s0);       \
    s1 = __smlabt((Z), (B), __smlad((X), (A), s1)); \
    s2 = __smlatb((X), (A), __smlad((Z), (B), s2)); \
    s3 = (int32_t)__smlad((Z), (A), s3);       \
  } while (0)

void tm2_depthwise3x3_s8_4x4(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                             const int32_t *bias, const tm2_rq *rq, int8_t *output) {
  const int32_t ch = p->channels, off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *s = input + (size_t)b * 16 * ch;
    int8_t *o = output + (size_t)b * 16 * ch;
    for (int32_t c = 0; c < ch; ++c, ++s, ++o) {
      const uint32_t *w = (const uint32_t *)weights + (size_t)c * 6; /* filter rows 0 .. 2: (A, B) */
      const int32_t bs = bias != NULL ? (int32_t)((uint32_t)bias[c] << 1) : 0;
      const int32_t m = rq[c].mult, hz = rq[c].hi, e = rq[c].sh;
      /* the channel's 16 inputs first, so that its outputs may overwrite them (in place) */
      uint32_t x0, z0, x1, z1, x2, z2, x3, z3;
      tm2_dw_c4_row(s, ch, off2, &x0, &z0);
      tm2_dw_c4_row(s + 4 * ch, ch, off2, &x1, &z1);
      tm2_dw_c4_row(s + 8 * ch, ch, off2, &x2, &z2);
      tm2_dw_c4_row(s + 12 * ch, ch, off2, &x3, &z3);
      int32_t s0, s1, s2, s3;
      /* output row oy: filter row fy on input row oy - 1 + fy, the padding rows skipped */
#define TM2_DW_C4_STORE(OY)                                       \
  do {                                                            \
    int8_t *const q = o + (OY) * 4 * ch;                          \
    q[0] = (int8_t)tm2_rq_highmul2_low_s8(s0, m, hz, e);                   \
    q[ch] = (int8_t)tm2_rq_highmul2_low_s8(s1, m, hz, e);                  \
    q[2 * ch] = (int8_t)tm2_rq_highmul2_low_s8(s2, m, hz, e);              \
    q[3 * ch] = (int8_t)tm2_rq_highmul2_low_s8(s3, m, hz, e);              \
  } while (0)
      s0 = s1 = s2 = s3 = bs;
      TM2_DW_C4_MACS(x0, z0, w[2], w[3]);
      TM2_DW_C4_MACS(x1, z1, w[4], w[5]);
      TM2_DW_C4_STORE(0);
      s0 = s1 = s2 = s3 = bs;
      TM2_DW_C4_MACS(x0, z0, w[0], w[1]);
      TM2_DW_C4_MACS(x1, z1, w[2], w[3]);
      TM2_DW_C4_MACS(x2, z2, w[4], w[5]);
      TM2_DW_C4_STORE(1);
      s0 = s1 = s2 = s3 = bs;
      TM2_DW_C4_MACS(x1, z1, w[0], w[1]);
      TM2_DW_C4_MACS(x2, z2, w[2], w[3]);
      TM2_DW_C4_MACS(x3, z3, w[4], w[5]);
      TM2_DW_C4_STORE(2);
      s0 = s1 = s2 = s3 = bs;
      TM2_DW_C4_MACS(x2, z2, w[0], w[1]);
      TM2_DW_C4_MACS(x3, z3, w[2], w[3]);
      TM2_DW_C4_STORE(3);
#undef TM2_DW_C4_STORE
    }
  }
}
#undef TM2_DW_C4_MACS
#endif

void tm2_depthwise3x3_s8_planes_whole(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                      const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output,
                                      const tm2_dw6_spec *spec) {
#if TM2_CONV_USE_DSP
  const int32_t ch = p->channels, pc = p->plane_ch, len = p->plane_len;
  tm2_dw6_tr tr;
  int own; /* 1: a loop on records with the descriptor's transpose inlined (every channel group in one call) */
  const tm2_dw6_cols cols = tm2_dw_spec_parts(p, rq, spec, &tr, &own);
  /* the generator took this entry for a layer its descriptor covers whole (dw3x3_plane_spec's "whole"); a layer
   * it does not cover stops here rather than computing wrong outputs */
  if (cols == NULL || (tr == NULL && !own && pc != 1) || ch % pc != 0) __builtin_trap();
  int16_t *const planes = (int16_t *)scratch;
  const int32_t off = p->input_offset;
  const uint32_t off2 = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
  uint32_t *const ebase = (uint32_t *)(planes + (size_t)p->pad_w * len + p->pad_h - (p->pad_h & 1));
  memset(scratch, 0, TM2_DW3X3_PLANES_SCRATCH(pc, p->plane_cols, len));
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * ch;
    const tm2_dw6_args sa = {planes, 2 * p->plane_cols * len, p->out_w, (const uint32_t *)weights, bias, rq,
                             output + (size_t)b * p->out_h * p->out_w * ch, ch, own ? in_b : NULL, ebase, off2,
                             p->in_w};
    if (own) { /* every channel group, each transposed first, in one call (tm2_dw6_args) */
      cols(&sa, 0, ch);
      continue;
    }
    for (int32_t c0 = 0; c0 < ch; c0 += pc) {
      if (pc == 1) { /* one channel a call (no specialised transpose): column by column */
        const int32_t head = p->pad_h & 1;
        for (int32_t ix = 0; ix < p->in_w; ++ix) {
          tm2_dw_plane_column1(in_b + (size_t)ix * ch + c0, (size_t)p->in_w * ch, (uint32_t *)((int16_t *)ebase + (size_t)ix * len),
                               head, (p->in_h - head) >> 1, (p->in_h - head) & 1, off2);
        }
      } else {
        tr(in_b + c0, ebase, off2, p->in_w);
      }
      cols(&sa, c0, pc);
    }
  }
#else
  (void)spec;
  tm2_depthwise3x3_s8_planes(p, input, weights, bias, rq, scratch, output);
#endif
}
