/* tinym2net int8 depthwise 3x3 convolutions of stride 2 straight from the HWC input (see tm2_dw_s2_dsp.h).
 * Hand-written for tinym2net. C99, no heap, no state. */
#include "tm2_dw_s2_dsp.h"

#include <stddef.h>
#include <string.h>

#include "tm2_inplace.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#include <arm_acle.h>

/* The record of a channel quad the assembly reads (int32 words, byte offsets in the macros below; built at
 * compile time, tinym2net/ops/packing.py dw3x3_s2_records):
 *   0 .. 3    the four channels' biases, input offset folded in, doubled;
 *   4, 8      filter rows 0 and 1: (tap 0, tap 1) of channels c .. c + 3;
 *   12        tap 2 of filter rows 0 and 1 (row 0 low, row 1 high) of channels c .. c + 3;
 *   16        filter row 2: (tap 0, tap 1) of channels c .. c + 3, then (tap 2 of c, tap 2 of c + 2) and
 *             (tap 2 of c + 1, tap 2 of c + 3);
 *             all doubled int16 lanes (zero in a copy masked by tm2_dws2_mask for a filter row outside the input);
 *   22 + 3 j  channel c + j's requantisation: TM2_RQ_HIGHMUL (m, hz, e), or TM2_RQ_HIGHMUL_E (m, hz', -E) with
 *             channel c + j's biases and weights above scaled by 2^(E - e) (output offset -128, every channel
 *             of the layer; E = TM2_DWS2_RQ_SHIFT, or the spec's E where the spec's runs take every row);
 *   34 .. 37  the four biases of an output row whose filter row 2 lies in the padding: the input offset folded in
 *             over filter rows 0 and 1 only (tm2_dws2_run with skip 4, the spec's run2).
 * TM2_DWS2_REC_WORDS words (tm2_dw_s2_dsp.h). */

/* Two words XA, XB (input addresses) of channels c .. c + 3 joined into the int16 pairs (XA, XB) of each channel
 * (PKHBT / PKHTB, SXTB16) and multiplied with the pair words at byte W of the record (channels c .. c + 3): the
 * columns 2 ox, 2 ox + 1 of one filter row, or column 2 ox + 2 of filter rows 0 and 1. Six loads in two runs and
 * ten data-processing instructions: 18 cycles for 8 multiply-accumulates. */
#define TM2_DWS2_PAIRS(XA, XB, W)            \
  "ldr %[t0], " XA "\n\t"                   \
  "ldr %[t1], " XB "\n\t"                   \
  "ldr %[t2], [%[wp], #" W "]\n\t"          \
  "ldr %[t3], [%[wp], #" W "+4]\n\t"        \
  "pkhbt %[t4], %[t0], %[t1], lsl #16\n\t"  \
  "pkhtb %[t1], %[t1], %[t0], asr #16\n\t"  \
  "sxtb16 %[t0], %[t4]\n\t"                 \
  "sxtb16 %[t4], %[t4], ror #8\n\t"         \
  "smlad %[a0], %[t0], %[t2], %[a0]\n\t"    \
  "smlad %[a1], %[t4], %[t3], %[a1]\n\t"    \
  "ldr %[t2], [%[wp], #" W "+8]\n\t"        \
  "ldr %[t3], [%[wp], #" W "+12]\n\t"       \
  "sxtb16 %[t0], %[t1]\n\t"                 \
  "sxtb16 %[t1], %[t1], ror #8\n\t"         \
  "smlad %[a2], %[t0], %[t2], %[a2]\n\t"    \
  "smlad %[a3], %[t1], %[t3], %[a3]\n\t"
/* Columns 2 ox, 2 ox + 1 of the filter row at row pointer R (at input column 2 ox of channel c), weights at byte W. */
#define TM2_DWS2_COLS01(R, W) TM2_DWS2_PAIRS("[%[" R "]]", "[%[" R "], %[ch]]", W)
/* Column 2 ox + 2 of filter rows 0 and 1 (the record's vertical pairs at byte 48). */
#define TM2_DWS2_COL2_01 TM2_DWS2_PAIRS("[%[r0], %[ch], lsl #1]", "[%[r1], %[ch], lsl #1]", "48")
/* Column 2 ox + 2 of filter row 2: SXTB16 into (c, c + 2) and (c + 1, c + 3), SMLABB / SMLATT with the tap 2
 * words at bytes 80 and 84. */
#define TM2_DWS2_COL2_2                        \
  "ldr %[t0], [%[r2], %[ch], lsl #1]\n\t"     \
  "ldr %[t2], [%[wp], #80]\n\t"               \
  "ldr %[t3], [%[wp], #84]\n\t"               \
  "sxtb16 %[t1], %[t0]\n\t"                   \
  "sxtb16 %[t0], %[t0], ror #8\n\t"           \
  "smlabb %[a0], %[t1], %[t2], %[a0]\n\t"     \
  "smlatt %[a2], %[t1], %[t2], %[a2]\n\t"     \
  "smlabb %[a1], %[t0], %[t3], %[a1]\n\t"     \
  "smlatt %[a3], %[t0], %[t3], %[a3]\n\t"
/* Column 2 ox + 2 of filter row 1 alone (row 0 in the padding): its taps in the high halves of the vertical pairs
 * (bytes 48 .. 60), SMLABT / SMLATT. */
#define TM2_DWS2_COL2_1                        \
  "ldr %[t0], [%[r1], %[ch], lsl #1]\n\t"     \
  "ldr %[t2], [%[wp], #48]\n\t"               \
  "ldr %[t3], [%[wp], #56]\n\t"               \
  "ldr %[t4], [%[wp], #52]\n\t"               \
  "sxtb16 %[t1], %[t0]\n\t"                   \
  "sxtb16 %[t0], %[t0], ror #8\n\t"           \
  "smlabt %[a0], %[t1], %[t2], %[a0]\n\t"     \
  "smlatt %[a2], %[t1], %[t3], %[a2]\n\t"     \
  "ldr %[t3], [%[wp], #60]\n\t"               \
  "smlabt %[a1], %[t0], %[t4], %[a1]\n\t"     \
  "smlatt %[a3], %[t0], %[t3], %[a3]\n\t"

/* TM2_RQ_HIGHMUL of the doubled sum A with m in M, hz in H, e in E, saturated to int8: the low form (output
 * offset -128, full range: no sign correction) and the corrected one (H is consumed). */
#define TM2_DWS2_RQ_LOW(A, M, H, E)                       \
  "smmlar %[" A "], %[" A "], %[" M "], %[" H "]\n\t"     \
  "asr %[" A "], %[" A "], %[" E "]\n\t"                  \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_DWS2_RQ_SIGNED(A, M, H, E)                    \
  "smmlar %[" H "], %[" A "], %[" M "], %[" H "]\n\t"     \
  "add %[" A "], %[" H "], %[" A "], asr #31\n\t"         \
  "asr %[" A "], %[" A "], %[" E "]\n\t"                  \
  "ssat %[" A "], #8, %[" A "]\n\t"

/* The requantisation of the four sums with TM2_RQ_HIGHMUL records (m, hz, e) and RQ (TM2_DWS2_RQ_LOW or _SIGNED),
 * the records loaded in runs, and the four byte stores at the output pointer om; then t0 = om + ch (the next
 * pixel's) and t1 = the run's end oe. */
#define TM2_DWS2_RQ4_HIGHMUL(RQ)                                                                              \
  "ldr %[t0], [%[wp], #88]\n\t"                                                                              \
  "ldr %[t1], [%[wp], #92]\n\t"                                                                              \
  "ldr %[t2], [%[wp], #96]\n\t"                                                                              \
  "ldr %[t3], [%[wp], #100]\n\t"                                                                             \
  "ldr %[t4], [%[wp], #104]\n\t" RQ("a0", "t0", "t1", "t2")                                                  \
  "ldr %[t2], [%[wp], #108]\n\t"                                                                             \
  "ldr %[t0], [%[wp], #112]\n\t"                                                                             \
  "ldr %[t1], [%[wp], #116]\n\t" RQ("a1", "t3", "t4", "t2")                                                  \
  "ldr %[t2], [%[wp], #120]\n\t"                                                                             \
  "ldr %[t3], [%[wp], #124]\n\t"                                                                             \
  "ldr %[t4], [%[wp], #128]\n\t" RQ("a2", "t0", "t1", "t2")                                                  \
  "ldr %[t2], [%[wp], #132]\n\t"                                                                             \
  "ldr %[t0], %[om]\n\t"                                                                                     \
  "ldr %[t1], %[oe]\n\t" RQ("a3", "t3", "t4", "t2")                                                          \
  "strb %[a0], [%[t0]]\n\t"                                                                                  \
  "strb %[a1], [%[t0], #1]\n\t"                                                                              \
  "strb %[a2], [%[t0], #2]\n\t"                                                                              \
  "strb %[a3], [%[t0], #3]\n\t"                                                                              \
  "add %[t0], %[t0], %[ch]\n\t"

/* The same with TM2_RQ_HIGHMUL_E records (m, hz', -E; output offset -128): SMMLA and SSAT with the shift E
 * (TM2_DWS2_RQ_SHIFT) in its immediate; two runs of five loads (the records of two channels and om, then those of
 * the other two and oe), each followed by the requantisation of two sums and their stores. */
#define TM2_DWS2_RQ_E(A, M, H)                          \
  "smmla %[" A "], %[" A "], %[" M "], %[" H "]\n\t"    \
  "ssat %[" A "], #8, %[" A "], asr #" TM2_DWS2_RQ_SHIFT "\n\t"
#define TM2_DWS2_RQ4_E                                                                                       \
  "ldr %[t0], [%[wp], #88]\n\t"                                                                              \
  "ldr %[t1], [%[wp], #92]\n\t"                                                                              \
  "ldr %[t2], [%[wp], #100]\n\t"                                                                             \
  "ldr %[t3], [%[wp], #104]\n\t"                                                                             \
  "ldr %[t4], %[om]\n\t" TM2_DWS2_RQ_E("a0", "t0", "t1") TM2_DWS2_RQ_E("a1", "t2", "t3")                     \
  "strb %[a0], [%[t4]]\n\t"                                                                                  \
  "strb %[a1], [%[t4], #1]\n\t"                                                                              \
  "ldr %[t0], [%[wp], #112]\n\t"                                                                             \
  "ldr %[a0], [%[wp], #116]\n\t"                                                                             \
  "ldr %[t2], [%[wp], #124]\n\t"                                                                             \
  "ldr %[t3], [%[wp], #128]\n\t"                                                                             \
  "ldr %[t1], %[oe]\n\t" TM2_DWS2_RQ_E("a2", "t0", "a0") TM2_DWS2_RQ_E("a3", "t2", "t3")                     \
  "strb %[a2], [%[t4], #2]\n\t"                                                                              \
  "strb %[a3], [%[t4], #3]\n\t"                                                                              \
  "add %[t0], %[t4], %[ch]\n\t"

/* n (>= 1) pixels of one output row for nq channel quads, in assembly: per pixel the biases, three filter
 * rows, the requantisation of the four sums and their byte stores at o (RQ4: TM2_DWS2_RQ4_HIGHMUL or
 * TM2_DWS2_RQ4_E; o kept in memory with the run's end pointer oe); the row pointers advance by two columns
 * (TM2_DWS2_PIXEL, its end test's flags set). After a quad's run the row pointers move back to its first pixel and
 * on to the next quad (radv = 4 - 2 n ch bytes), the output to the next quad's first pixel (o - ostep, ostep =
 * n ch - 4) and its end four bytes on, the record pointer by wadv bytes. */
#define TM2_DWS2_PIXEL(RQ4, BIAS, ROWS)                                                                     \
  BIAS ROWS RQ4                                                                                          \
  "str %[t0], %[om]\n\t"                                                                                 \
  "add %[r0], %[r0], %[ch], lsl #1\n\t"                                                                  \
  "add %[r1], %[r1], %[ch], lsl #1\n\t"                                                                  \
  "add %[r2], %[r2], %[ch], lsl #1\n\t"                                                                  \
  "cmp %[t0], %[t1]\n\t"
#define TM2_DWS2_RUN(RQ4, BIAS, ROWS, BADV)                                                                 \
  __asm__ volatile(                                                                                      \
      "1:\n\t" TM2_DWS2_PIXEL(RQ4, BIAS, ROWS) "bne 1b\n\t"                                               \
      "ldr %[t2], %[radv]\n\t"                                                                           \
      "ldr %[t3], %[ostep]\n\t"                                                                          \
      "ldr %[t4], %[wadv]\n\t"                                                                           \
      "add %[r0], %[r0], %[t2]\n\t"                                                                      \
      "add %[r1], %[r1], %[t2]\n\t"                                                                      \
      "add %[r2], %[r2], %[t2]\n\t"                                                                      \
      "sub %[t0], %[t0], %[t3]\n\t"                                                                      \
      "add %[t1], %[t1], #4\n\t"                                                                         \
      "add %[wp], %[wp], %[t4]\n\t"                                                                      \
      "str %[t0], %[om]\n\t"                                                                             \
      "str %[t1], %[oe]\n\t" BADV                                                                        \
      "ldr %[t2], %[nq]\n\t"                                                                             \
      "subs %[t2], %[t2], #1\n\t"                                                                        \
      "str %[t2], %[nq]\n\t"                                                                             \
      "bne 1b\n\t"                                                                                       \
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [t0] "=&r"(t0), [t1] "=&r"(t1),   \
        [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2),      \
        [wp] "+r"(rec), [om] "+m"(o), [oe] "+m"(oe), [nq] "+m"(nq), [bm] "+m"(bias)                     \
      : [ch] "r"(ch), [radv] "m"(radv), [ostep] "m"(ostep), [wadv] "m"(wadv)                            \
      : "cc", "memory")

/* The biases: from the record (words 0 .. 3; filter row 2 in the padding: words 34 .. 37), or (filter row 0 in the
 * padding) from the array at bm, four words a quad. */
#define TM2_DWS2_BIAS_REC                    \
  "ldr %[a0], [%[wp]]\n\t"                  \
  "ldr %[a1], [%[wp], #4]\n\t"              \
  "ldr %[a2], [%[wp], #8]\n\t"              \
  "ldr %[a3], [%[wp], #12]\n\t"
#define TM2_DWS2_BIAS_REC2                   \
  "ldr %[a0], [%[wp], #136]\n\t"            \
  "ldr %[a1], [%[wp], #140]\n\t"            \
  "ldr %[a2], [%[wp], #144]\n\t"            \
  "ldr %[a3], [%[wp], #148]\n\t"
#define TM2_DWS2_BIAS_ARR                    \
  "ldr %[t0], %[bm]\n\t"                    \
  "ldr %[a0], [%[t0]]\n\t"                  \
  "ldr %[a1], [%[t0], #4]\n\t"              \
  "ldr %[a2], [%[t0], #8]\n\t"              \
  "ldr %[a3], [%[t0], #12]\n\t"
#define TM2_DWS2_BADV_ARR                    \
  "ldr %[t0], %[bm]\n\t"                    \
  "add %[t0], %[t0], #16\n\t"               \
  "str %[t0], %[bm]\n\t"
/* The filter rows of a pixel: all three, rows 0 and 1 (row 2 in the padding), rows 1 and 2 (row 0 in the padding). */
#define TM2_DWS2_ROWS_ALL \
  TM2_DWS2_COLS01("r0", "16") TM2_DWS2_COLS01("r1", "32") TM2_DWS2_COL2_01 TM2_DWS2_COLS01("r2", "64") TM2_DWS2_COL2_2
#define TM2_DWS2_ROWS_01 TM2_DWS2_COLS01("r0", "16") TM2_DWS2_COLS01("r1", "32") TM2_DWS2_COL2_01
#define TM2_DWS2_ROWS_12 TM2_DWS2_COLS01("r1", "32") TM2_DWS2_COL2_1 TM2_DWS2_COLS01("r2", "64") TM2_DWS2_COL2_2

/* Runs of n pixels of one output row for nq channel quads with TM2_DWS2_RUN: r0 .. r2 the filter rows' first
 * pixel of the first quad, rec its record, the next quads' records wadv bytes apart, o its first output; form:
 * the requantisation (TM2_DWS2_FORM_*).
 * skip: 0, or the filter row in the padding (1 << fy, fy = 0 or 2), which the run leaves out, its biases
 * (the record's less that row's share of the input offset) from the record's words 34 .. 37 (fy 2) or the array
 * bias, four words a quad (fy 0). Not
 * inlined: the assembly needs every register, so its memory operands must be stack slots of its own
 * frame. */
__attribute__((noinline)) static void tm2_dws2_run(const int8_t *r0, const int8_t *r1, const int8_t *r2, int32_t n,
                                                   int32_t nq, int32_t ch, const int32_t *rec, int32_t wadv,
                                                   int form, int32_t skip, const int32_t *bias, int8_t *o) {
  uint32_t a0, a1, a2, a3, t0, t1, t2, t3, t4;
  int8_t *oe = o + (size_t)n * ch;
  const int32_t radv = 4 - 2 * n * ch, ostep = n * ch - 4;
  if (form == TM2_DWS2_FORM_E) {
    if (skip == 0) {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_E, TM2_DWS2_BIAS_REC, TM2_DWS2_ROWS_ALL, "");
    } else if (skip == 4) {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_E, TM2_DWS2_BIAS_REC2, TM2_DWS2_ROWS_01, "");
    } else {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_E, TM2_DWS2_BIAS_ARR, TM2_DWS2_ROWS_12, TM2_DWS2_BADV_ARR);
    }
  } else if (form == TM2_DWS2_FORM_LOW) {
    if (skip == 0) {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_HIGHMUL(TM2_DWS2_RQ_LOW), TM2_DWS2_BIAS_REC, TM2_DWS2_ROWS_ALL, "");
    } else if (skip == 4) {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_HIGHMUL(TM2_DWS2_RQ_LOW), TM2_DWS2_BIAS_REC2, TM2_DWS2_ROWS_01, "");
    } else {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_HIGHMUL(TM2_DWS2_RQ_LOW), TM2_DWS2_BIAS_ARR, TM2_DWS2_ROWS_12, TM2_DWS2_BADV_ARR);
    }
  } else {
    if (skip == 0) {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_HIGHMUL(TM2_DWS2_RQ_SIGNED), TM2_DWS2_BIAS_REC, TM2_DWS2_ROWS_ALL, "");
    } else if (skip == 4) {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_HIGHMUL(TM2_DWS2_RQ_SIGNED), TM2_DWS2_BIAS_REC2, TM2_DWS2_ROWS_01, "");
    } else {
      TM2_DWS2_RUN(TM2_DWS2_RQ4_HIGHMUL(TM2_DWS2_RQ_SIGNED), TM2_DWS2_BIAS_ARR, TM2_DWS2_ROWS_12, TM2_DWS2_BADV_ARR);
    }
  }
}

/* The biases of record rec less the share of the folded input offset of its filter row fy: off times the sum of
 * that row's doubled weights per channel (SMUAD of its pair word with (1, 1) adds the lanes; tap 2: the low (row 0)
 * or high (row 1) half of the vertical pair word, or for row 2 the low or high half of word 20 (channels c, c + 2)
 * or 21 (c + 1, c + 3)). */
static void tm2_dws2_unshare(const int32_t *rec, int32_t fy, int32_t off, int32_t out[4]) {
  const uint32_t one = 0x00010001u, uoff = (uint32_t)off;
  const int32_t *r = rec + (fy == 0 ? 4 : fy == 1 ? 8 : 16);
  int32_t e0, e1, e2, e3; /* the taps 2, straight-line */
  if (fy == 0) {
    e0 = (int16_t)rec[12], e1 = (int16_t)rec[13], e2 = (int16_t)rec[14], e3 = (int16_t)rec[15];
  } else if (fy == 1) {
    e0 = rec[12] >> 16, e1 = rec[13] >> 16, e2 = rec[14] >> 16, e3 = rec[15] >> 16;
  } else {
    e0 = (int16_t)rec[20], e1 = (int16_t)rec[21], e2 = rec[20] >> 16, e3 = rec[21] >> 16;
  }
  const uint32_t s0 = __smuad((uint32_t)r[0], one) + (uint32_t)e0, s1 = __smuad((uint32_t)r[1], one) + (uint32_t)e1;
  const uint32_t s2 = __smuad((uint32_t)r[2], one) + (uint32_t)e2, s3 = __smuad((uint32_t)r[3], one) + (uint32_t)e3;
  out[0] = (int32_t)((uint32_t)rec[0] - uoff * s0);
  out[1] = (int32_t)((uint32_t)rec[1] - uoff * s1);
  out[2] = (int32_t)((uint32_t)rec[2] - uoff * s2);
  out[3] = (int32_t)((uint32_t)rec[3] - uoff * s3);
}

/* A copy of record rec for an output row whose filter rows fy with bit fy of valid clear lie in the padding:
 * their weights zero, their share of the folded input offset out of the biases (more than one such row:
 * inputs of fewer than three rows). */
static void tm2_dws2_mask(const int32_t *rec, int32_t off, int32_t valid, int32_t out[TM2_DWS2_REC_WORDS]) {
  memcpy(out, rec, TM2_DWS2_REC_WORDS * sizeof out[0]);
  for (int32_t fy = 0; fy < 3; ++fy) {
    if (valid >> fy & 1) continue;
    tm2_dws2_unshare(out, fy, off, out);
    if (fy == 2) {
      for (int32_t k = 16; k < 22; ++k) out[k] = 0;
    } else {
      const uint32_t keep = fy == 0 ? 0xFFFF0000u : 0x0000FFFFu; /* the other row's half of the vertical pairs */
      for (int32_t j = 0; j < 4; ++j) out[4 * (fy + 1) + j] = 0, out[12 + j] = (int32_t)((uint32_t)out[12 + j] & keep);
    }
  }
}

/* Quads a run with filter row 0 in the padding takes at most (the size of its bias array). */
#define TM2_DWS2_CHUNK 16

/* The layer (tm2_depthwise3x3_s8_s2); the interior pixels and right edge of rows with filter rows 0 and 1 inside the
 * input on spec's runs where spec is one built for the layer (its channels, input rows, form and shift of the
 * records (TM2_DWS2_FORM_*), edge, interior pixels and records a quad). Loops: output rows,
 * then the pieces of the row (k = 2: the left edge, its first column in the padding; k = 1: the interior run;
 * k = 0: the right edge), each one run of the assembly over the channel quads on
 * the records built at compile time after the packed weights (tinym2net/ops/packing.py, dw3x3_s2_records):
 * per quad, one record per column shift v = k - 1 the layer needs (-1, 0, +1 in that order). An output row
 * with its last filter row in the padding leaves that row out, on the records' biases without its share of the
 * input offset (on spec's run2 where the other rows take spec's run); one with its first filter row in the
 * padding too, on biases computed here, TM2_DWS2_CHUNK quads a run; other rows outside the input (inputs of
 * fewer than three rows) go quad by quad on masked copies of the records. */
static void tm2_dws2_layer(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                           int8_t *output, const tm2_dws2_spec *spec) {
  const int32_t ch = p->channels, in_h = p->in_h, in_w = p->in_w, out_w = p->out_w, pad_w = p->pad_w;
  const int32_t off = p->input_offset, quads = ch / 4;
  const size_t in_row = (size_t)in_w * ch;
  /* the form of the records (packing.py, dw3x3_s2_records): TM2_RQ_HIGHMUL_E where the third word of a channel's
   * requantisation is negative (-E), else TM2_RQ_HIGHMUL, with or without the sign correction */
  const int form = weights[(size_t)ch * 6 + 24] < 0      ? TM2_DWS2_FORM_E
                   : p->output_offset == -128 ? TM2_DWS2_FORM_LOW
                                              : TM2_DWS2_FORM_SIGNED;
  /* interior pixels [ox0, ox1): every tap inside the row, 0 <= 2 ox - pad_w and 2 ox - pad_w + 2 < in_w; the
   * pixels before and after have one column outside (TM2_DW_S2_APPLIES) */
  const int32_t ox0 = tm2_min_i32(pad_w, out_w);
  const int32_t ox1 = tm2_max_i32(ox0, tm2_min_i32(out_w, (in_w - 3 + pad_w) / 2 + 1));
  /* per piece k: first pixel, pixels, its first input column */
  const int32_t first[3] = {ox1, ox0, 0}, count[3] = {out_w - ox1, ox1 - ox0, ox0};
  const int32_t col[3] = {2 * ox1 - pad_w - 1, 2 * ox0 - pad_w, 0};
  const int32_t quad_words = ((count[0] > 0) + (count[1] > 0) + (count[2] > 0)) * TM2_DWS2_REC_WORDS;
  const int32_t wadv = quad_words * 4; /* bytes from one quad's records to the next */
  /* spec where it was built for this layer: its form and shift, channels, row bytes, right edge, interior pixels (at
   * least one) and records a quad */
  const int32_t shift = form == TM2_DWS2_FORM_E ? -weights[(size_t)ch * 6 + 24] : 0;
  if (spec != NULL && (spec->form != form || spec->e != shift || spec->ch != ch || spec->row != (int32_t)in_row ||
                       spec->edge != (count[0] > 0) || spec->n != count[1] ||
                       spec->recs * TM2_DWS2_REC_WORDS != quad_words)) {
    spec = NULL;
  }
  const int32_t *recs[3]; /* quad 0's records */
  for (int32_t k = 0, i = 0; k < 3; ++k) {
    recs[k] = weights + (size_t)ch * 6 + i * TM2_DWS2_REC_WORDS;
    i += count[k] > 0;
  }
  int32_t barr[TM2_DWS2_CHUNK][4];
  int32_t masked[TM2_DWS2_REC_WORDS];
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_h * in_row;
    int8_t *out_b = output + (size_t)b * p->out_h * out_w * ch;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = 2 * oy - p->pad_h;
      if (spec != NULL && iy0 >= 0 && iy0 + 1 < in_h) {
        /* filter rows 0 and 1 inside: spec's runs (run2 with row 2 in the padding) for the interior pixels and the
         * right edge, the generic run for a left edge */
        const tm2_dws2_run_fn run = iy0 + 2 < in_h ? spec->run : spec->run2;
        const int8_t *const r0 = in_b + (size_t)iy0 * in_row;
        int8_t *const o = out_b + (size_t)oy * out_w * ch;
        run(r0 + (size_t)col[1] * ch, quads, recs[1], o + (size_t)first[1] * ch);
        if (count[2] > 0) {
          const int last = iy0 + 2 >= in_h; /* filter row 2 in the padding: not read */
          tm2_dws2_run(r0, r0 + in_row, last ? r0 : r0 + 2 * in_row, count[2], quads, ch, recs[2], wadv, form,
                       last ? 4 : 0, NULL, o);
        }
        continue;
      }
      const int8_t *rows[3];
      int32_t valid = 0, any = -1;
      for (int32_t fy = 0; fy < 3; ++fy) {
        if (iy0 + fy >= 0 && iy0 + fy < in_h) {
          valid |= 1 << fy;
          if (any < 0) any = iy0 + fy;
        }
      }
      if (any < 0) any = 0; /* no row inside: every weight is zero (not reached by TFLite shapes) */
      for (int32_t fy = 0; fy < 3; ++fy) rows[fy] = in_b + (size_t)(valid >> fy & 1 ? iy0 + fy : any) * in_row;
      int8_t *const o = out_b + (size_t)oy * out_w * ch;
      for (int32_t k = 0; k < 3; ++k) {
        if (count[k] == 0) continue;
        const size_t x = (size_t)col[k] * ch;
        int8_t *const ok = o + (size_t)first[k] * ch;
        if (valid == 7 || valid == 3) {
          tm2_dws2_run(rows[0] + x, rows[1] + x, rows[2] + x, count[k], quads, ch, recs[k], wadv, form, valid ^ 7,
                       NULL, ok);
        } else if (valid == 6) {
          for (int32_t q0 = 0; q0 < quads; q0 += TM2_DWS2_CHUNK) {
            const int32_t nq = tm2_min_i32(TM2_DWS2_CHUNK, quads - q0);
            for (int32_t q = 0; q < nq; ++q) {
              tm2_dws2_unshare(recs[k] + (size_t)(q0 + q) * quad_words, 0, off, barr[q]);
            }
            const size_t c = (size_t)q0 * 4;
            tm2_dws2_run(rows[0] + x + c, rows[1] + x + c, rows[2] + x + c, count[k], nq, ch,
                         recs[k] + (size_t)q0 * quad_words, wadv, form, 1, &barr[0][0], ok + c);
          }
        } else {
          for (int32_t q = 0; q < quads; ++q) {
            tm2_dws2_mask(recs[k] + (size_t)q * quad_words, off, valid, masked);
            const size_t c = (size_t)q * 4;
            tm2_dws2_run(rows[0] + x + c, rows[1] + x + c, rows[2] + x + c, count[k], 1, ch, masked, 0, form, 0,
                         NULL, ok + c);
          }
        }
      }
    }
  }
}

void tm2_depthwise3x3_s8_s2(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                            const int32_t *bias, const tm2_rq *rq, int8_t *output) {
  (void)bias, (void)rq; /* both folded into the records */
  tm2_dws2_layer(p, input, weights, output, NULL);
}
#endif

void tm2_depthwise3x3_s8_s2_spec(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                 const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output,
                                 const tm2_dws2_spec *spec) {
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
  if (TM2_DW_S2_APPLIES(p)) {
    tm2_dws2_layer(p, input, weights, output, spec);
  } else { /* (not for a layer the lowering gave a spec) */
    tm2_depthwise3x3_s8_direct(p, input, weights, bias, rq, output);
  }
  (void)scratch;
#else
  (void)spec;
  if (scratch == NULL) {
    tm2_depthwise3x3_s8_direct(p, input, weights, bias, rq, output);
  } else if (p->plane_ch > 0) {
    tm2_depthwise3x3_s8_planes(p, input, weights, bias, rq, scratch, output);
  } else {
    tm2_depthwise3x3_s8_packed(p, input, weights, bias, rq, scratch, output);
  }
#endif
}
