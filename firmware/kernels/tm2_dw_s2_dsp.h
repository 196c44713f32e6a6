/* tinym2net int8 depthwise 3x3 convolutions of stride 2 straight from the HWC input (no scratch), for cores
 * with the DSP extension. Hand-written for tinym2net. C99, no heap, no state. */
#ifndef TM2_DW_S2_DSP_H
#define TM2_DW_S2_DSP_H
#include <stddef.h>
#include <stdint.h>

#include "tm2_conv_dsp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The requantisation forms of the stride-2 kernel's records: TM2_RQ_HIGHMUL_E, TM2_RQ_HIGHMUL without (output offset
 * -128) and with the sign correction. */
#define TM2_DWS2_FORM_E 0
#define TM2_DWS2_FORM_LOW 1
#define TM2_DWS2_FORM_SIGNED 2

/* A run of tm2_depthwise3x3_s8_s2 specialised for one layer shape (TM2_DWS2_SPEC): the n (>= 1) interior pixels of
 * one output row for nq channel quads, then (edge set) the right edge pixel; r: filter row 0 at the first pixel's
 * input column 2 ox (channel c of the first quad), rec: that quad's interior record, the next quads' recs records
 * on, o: its first output. run: every filter row inside the input; run2: filter row 2 in the padding. form, e, ch,
 * row, edge, n and recs: the records' form (TM2_DWS2_FORM_E or _LOW) and shift E (0 for _LOW), the channels, the
 * input row bytes (in_w * ch), whether the layer has a right edge pixel (its record right before the interior one),
 * the interior pixels and the records a quad, as built. */
typedef void (*tm2_dws2_run_fn)(const int8_t *r, int32_t nq, const int32_t *rec, int8_t *o);
typedef struct {
  tm2_dws2_run_fn run, run2;
  int32_t form, e, ch, row, edge, n, recs;
} tm2_dws2_spec;

/* DEPTHWISE_CONV_2D 3x3 for the generated code of a layer with specialised runs (spec, TM2_DWS2_SPEC_REF):
 * with the DSP extension tm2_depthwise3x3_s8_s2, on those runs (the rows whose filter rows 0 and 1 lie inside the
 * input) where spec was built for the layer (else the generic run; tm2_depthwise3x3_s8_direct where the kernel does
 * not take the layer, which the lowering does not give a spec); without it the call the layer would have made:
 * tm2_depthwise3x3_s8_direct (scratch NULL), _planes (plane_ch set) or _packed. */
void tm2_depthwise3x3_s8_s2_spec(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                 const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output,
                                 const tm2_dws2_spec *spec);

/* Whether tm2_depthwise3x3_s8_s2 takes the layer: the DSP extension (and no TM2_PORTABLE), stride 2, a
 * channel count that is a multiple of four, TM2_RQ_HIGHMUL records, the full int8 output range, an input
 * at least three columns wide and at most one padding column on either side that a pixel reads (SAME and
 * VALID). The kernels of the other forms (tm2_depthwise3x3_s8_packed, _planes, _direct) call it first where
 * it applies. */
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#define TM2_DW_S2_APPLIES(p)                                                                                 \
  ((p)->stride == 2 && ((p)->channels & 3) == 0 && (p)->rq_mode == TM2_RQ_HIGHMUL && (p)->act_min == -128 && \
   (p)->act_max == 127 && (p)->in_w >= 3 && (p)->pad_w <= 1 && 2 * (p)->out_w - (p)->pad_w <= (p)->in_w)

/* DEPTHWISE_CONV_2D 3x3 of stride 2 (TM2_DW_S2_APPLIES), bit-exact with tm2_depthwise3x3_s8_packed: four
 * channels a pixel. Per filter row, the words of input columns 2 ox and 2 ox + 1 (channels c .. c + 3) are
 * joined by PKHBT / PKHTB and sign-extended by SXTB16 into the int16 pairs (column 2 ox, column 2 ox + 1) of
 * each channel, one SMLAD each against (w0, w1); column 2 ox + 2 goes through SXTB16 and SMLABB / SMLATT.
 * weights: the packed weights of tm2_depthwise3x3_s8_packed (channels * 6 words), then the records the
 * lowering appends where this kernel takes the layer (tinym2net/ops/packing.py, dw3x3_s2_records): per
 * channel quad, the biases with the input offset folded in (sum w * (x + off) = sum w * x + off * sum w),
 * the weights, both doubled for the TM2_RQ_HIGHMUL requantisation, and the requantisation records; a
 * pixel with a column in the left or right padding reads the three columns next to it inside the input,
 * on a record of weights shifted by one column. bias and rq are not read (their values are in the
 * records). */
void tm2_depthwise3x3_s8_s2(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                            const int32_t *bias, const tm2_rq *rq, int8_t *output);

/* The shift E of the records of TM2_RQ_HIGHMUL_E (DW_S2_RQ_SHIFTS in tinym2net/ops/packing.py). */
#define TM2_DWS2_RQ_SHIFT "12"

/* The specialised runs (tm2_dws2_run_fn) of channels CH and input rows of ROW bytes, for records of form RQ (E:
 * TM2_RQ_HIGHMUL_E of shift SH, LOW: TM2_RQ_HIGHMUL, output offset -128): every input word at an immediate offset
 * from one pointer (filter row fy, column k of the pixel: fy ROW + k CH, at most 4095: tinym2net/ops/packing.py
 * dw3x3_s2_spec), the output pointer in a register, so seven temporaries: each group of columns loads its two
 * input words and four weight words in one run. Per pixel: the biases with the words of filter row 0 (columns
 * 2 ox, 2 ox + 1; TM2_DWS2S_FIRST) in one run of ten loads, then filter row 1, column 2 ox + 2 of filter rows 0
 * and 1 (vertical pairs), filter row 2 (TM2_DWS2S_PAIRS), column 2 ox + 2 of filter row 2 with the first
 * requantisation records, the other records with the run's end in a second run, four byte stores at immediate
 * offsets (TM2_DWS2S_TAIL_E; TM2_DWS2S_TAIL_LOW: the records (m, hz, e) in three runs; run2: filter rows 0 and 1,
 * TM2_DWS2S_TAIL2_*). The input pointer moves on to the next pixel in the load of column 2 ox (post-indexed, where
 * 2 CH fits its 8-bit immediate: the later loads' offsets less tm2_dws2s_d = 2 CH, else 0 and an ADD), the output
 * pointer in the store of channel c's output (post-indexed, where CH fits). */
#define TM2_DWS2S_FIRST(CH)             \
  "ldr %[t1], [%[p], #" CH "]\n\t"      \
  ".if tm2_dws2s_d\n\t"                 \
  "ldr %[t0], [%[p]], #tm2_dws2s_d\n\t" \
  ".else\n\t"                           \
  "ldr %[t0], [%[p]]\n\t"               \
  ".endif\n\t"
#define TM2_DWS2S_PAIRS(XA, XB, W)               \
  "ldr %[t0], [%[p], #(" XA ")-tm2_dws2s_d]\n\t" \
  "ldr %[t1], [%[p], #(" XB ")-tm2_dws2s_d]\n\t" TM2_DWS2S_MACS(W)
#define TM2_DWS2S_MACS(W)                  \
  "ldr %[t2], [%[wp], #" W "]\n\t"         \
  "ldr %[t3], [%[wp], #" W "+4]\n\t"       \
  "ldr %[t5], [%[wp], #" W "+8]\n\t"       \
  "ldr %[t6], [%[wp], #" W "+12]\n\t"      \
  "pkhbt %[t4], %[t0], %[t1], lsl #16\n\t" \
  "pkhtb %[t1], %[t1], %[t0], asr #16\n\t" \
  "sxtb16 %[t0], %[t4]\n\t"                \
  "sxtb16 %[t4], %[t4], ror #8\n\t"        \
  "smlad %[a0], %[t0], %[t2], %[a0]\n\t"   \
  "smlad %[a1], %[t4], %[t3], %[a1]\n\t"   \
  "sxtb16 %[t0], %[t1]\n\t"                \
  "sxtb16 %[t1], %[t1], ror #8\n\t"        \
  "smlad %[a2], %[t0], %[t5], %[a2]\n\t"   \
  "smlad %[a3], %[t1], %[t6], %[a3]\n\t"
/* Column 2 ox + 2 of filter row 2 (its taps at bytes 80, 84 of the record, SMLABB / SMLATT), channel c's first two
 * requantisation words and the word at byte W2 loaded in its run. */
#define TM2_DWS2S_COL22(X22, W2)                  \
  "ldr %[t0], [%[p], #(" X22 ")-tm2_dws2s_d]\n\t" \
  "ldr %[t2], [%[wp], #80]\n\t"                   \
  "ldr %[t3], [%[wp], #84]\n\t"                   \
  "ldr %[t4], [%[wp], #88]\n\t"                   \
  "ldr %[t5], [%[wp], #92]\n\t"                   \
  "ldr %[t6], [%[wp], #" W2 "]\n\t"               \
  "sxtb16 %[t1], %[t0]\n\t"                       \
  "sxtb16 %[t0], %[t0], ror #8\n\t"               \
  "smlabb %[a0], %[t1], %[t2], %[a0]\n\t"         \
  "smlatt %[a2], %[t1], %[t2], %[a2]\n\t"         \
  "smlabb %[a1], %[t0], %[t3], %[a1]\n\t"         \
  "smlatt %[a3], %[t0], %[t3], %[a3]\n\t"
/* The four output bytes, and the next pixel's pointers (the loop's flags set). */
#define TM2_DWS2S_STORE(CH)         \
  "strb %[a1], [%[o], #1]\n\t"      \
  "strb %[a2], [%[o], #2]\n\t"      \
  "strb %[a3], [%[o], #3]\n\t"      \
  ".if " CH " <= 255\n\t"           \
  "strb %[a0], [%[o]], #" CH "\n\t" \
  ".else\n\t"                       \
  "strb %[a0], [%[o]]\n\t"          \
  "add %[o], %[o], #" CH "\n\t"     \
  ".endif\n\t"                      \
  ".if tm2_dws2s_d == 0\n\t"        \
  "add %[p], %[p], #2*" CH "\n\t"   \
  ".endif\n\t"                      \
  ".if tm2_dws2s_t == 1\n\t"        \
  "cmp %[o], %[t5]\n\t"             \
  ".endif\n\t"
/* The end test's load of oe (and its comparison in TM2_DWS2S_STORE): left out of the first pixel of the loop's pair
 * (tm2_dws2s_t 0), the load alone in the edge pixel (2: oe for the quad's step). */
#define TM2_DWS2S_TEST(INSN) ".if tm2_dws2s_t\n\t" INSN ".endif\n\t"
/* Column 2 ox + 2 of filter row 2, the records of TM2_RQ_HIGHMUL_E (m, hz') of channels c and c + 1 (m) in its run,
 * channel c's requantisation (shift SH); the rest of the records and the run's end oe in one run, the
 * requantisation of channels c + 1 .. c + 3, the stores. */
#define TM2_DWS2S_RQ_E(A, M, H, SH) \
  "smmla %[" A "], %[" A "], %[" M "], %[" H "]\n\t" \
  "ssat %[" A "], #8, %[" A "], asr #" SH "\n\t"
#define TM2_DWS2S_TAIL_E(X22, CH, SH)                                         \
  TM2_DWS2S_COL22(X22, "100") TM2_DWS2S_RQ_E("a0", "t4", "t5", SH)             \
  "ldr %[t0], [%[wp], #104]\n\t"                                              \
  "ldr %[t1], [%[wp], #112]\n\t"                                              \
  "ldr %[t2], [%[wp], #116]\n\t"                                              \
  "ldr %[t3], [%[wp], #124]\n\t"                                              \
  "ldr %[t4], [%[wp], #128]\n\t"                                              \
  TM2_DWS2S_TEST("ldr %[t5], %[oe]\n\t") TM2_DWS2S_RQ_E("a1", "t6", "t0", SH)                  \
      TM2_DWS2S_RQ_E("a2", "t1", "t2", SH) TM2_DWS2S_RQ_E("a3", "t3", "t4", SH) TM2_DWS2S_STORE(CH)
/* Filter row 2 in the padding (run2): the eight records of TM2_RQ_HIGHMUL_E in two runs (those of channels c .. c + 2,
 * then channel c + 3's with oe), the requantisation after each, the stores. */
#define TM2_DWS2S_TAIL2_E(CH, SH)                                                                      \
  "ldr %[t0], [%[wp], #88]\n\t"                                                                       \
  "ldr %[t1], [%[wp], #92]\n\t"                                                                       \
  "ldr %[t2], [%[wp], #100]\n\t"                                                                      \
  "ldr %[t3], [%[wp], #104]\n\t"                                                                      \
  "ldr %[t4], [%[wp], #112]\n\t"                                                                      \
  "ldr %[t6], [%[wp], #116]\n\t" TM2_DWS2S_RQ_E("a0", "t0", "t1", SH) TM2_DWS2S_RQ_E("a1", "t2", "t3", SH) \
      TM2_DWS2S_RQ_E("a2", "t4", "t6", SH)                                                            \
  "ldr %[t0], [%[wp], #124]\n\t"                                                                      \
  "ldr %[t1], [%[wp], #128]\n\t"                                                                      \
  TM2_DWS2S_TEST("ldr %[t5], %[oe]\n\t") TM2_DWS2S_RQ_E("a3", "t0", "t1", SH) TM2_DWS2S_STORE(CH)
/* The same with TM2_RQ_HIGHMUL records (m, hz, e; output offset -128): SMMLAR, ASR by e, SSAT; the records in three
 * runs (those of channel c with column 2 ox + 2's, then two channels', then the last one's with oe). */
#define TM2_DWS2S_RQ_LOW(A, M, H, E)                  \
  "smmlar %[" A "], %[" A "], %[" M "], %[" H "]\n\t" \
  "asr %[" A "], %[" A "], %[" E "]\n\t"              \
  "ssat %[" A "], #8, %[" A "]\n\t"
#define TM2_DWS2S_TAIL_LOW(X22, CH, SH)                                   \
  TM2_DWS2S_COL22(X22, "96") TM2_DWS2S_RQ_LOW("a0", "t4", "t5", "t6")     \
  "ldr %[t0], [%[wp], #100]\n\t"                                          \
  "ldr %[t1], [%[wp], #104]\n\t"                                          \
  "ldr %[t2], [%[wp], #108]\n\t"                                          \
  "ldr %[t3], [%[wp], #112]\n\t"                                          \
  "ldr %[t4], [%[wp], #116]\n\t"                                          \
  "ldr %[t6], [%[wp], #120]\n\t" TM2_DWS2S_RQ_LOW("a1", "t0", "t1", "t2") \
      TM2_DWS2S_RQ_LOW("a2", "t3", "t4", "t6")                            \
  "ldr %[t0], [%[wp], #124]\n\t"                                          \
  "ldr %[t1], [%[wp], #128]\n\t"                                          \
  "ldr %[t2], [%[wp], #132]\n\t"                                          \
  TM2_DWS2S_TEST("ldr %[t5], %[oe]\n\t") TM2_DWS2S_RQ_LOW("a3", "t0", "t1", "t2") TM2_DWS2S_STORE(CH)
/* The same for run2: (m, hz, e) of channels c and c + 1 in one run, of c + 2 and c + 3 with oe in another. */
#define TM2_DWS2S_TAIL2_LOW(CH, SH)                                           \
  "ldr %[t0], [%[wp], #88]\n\t"                                              \
  "ldr %[t1], [%[wp], #92]\n\t"                                              \
  "ldr %[t2], [%[wp], #96]\n\t"                                              \
  "ldr %[t3], [%[wp], #100]\n\t"                                             \
  "ldr %[t4], [%[wp], #104]\n\t"                                             \
  "ldr %[t6], [%[wp], #108]\n\t" TM2_DWS2S_RQ_LOW("a0", "t0", "t1", "t2")     \
      TM2_DWS2S_RQ_LOW("a1", "t3", "t4", "t6")                                \
  "ldr %[t0], [%[wp], #112]\n\t"                                             \
  "ldr %[t1], [%[wp], #116]\n\t"                                             \
  "ldr %[t2], [%[wp], #120]\n\t"                                             \
  "ldr %[t3], [%[wp], #124]\n\t"                                             \
  "ldr %[t4], [%[wp], #128]\n\t"                                             \
  "ldr %[t6], [%[wp], #132]\n\t"                                             \
  TM2_DWS2S_TEST("ldr %[t5], %[oe]\n\t") TM2_DWS2S_RQ_LOW("a2", "t0", "t1", "t2")              \
      TM2_DWS2S_RQ_LOW("a3", "t3", "t4", "t6") TM2_DWS2S_STORE(CH)
/* The pixels: the biases (record words 0 .. 3, or 34 .. 37 for run2) with the words of filter row 0 in one run,
 * then filter row 1, column 2 ox + 2 of filter rows 0 and 1, and (run) filter row 2 and the tail. */
#define TM2_DWS2S_BIAS(W)               \
  "ldr %[a0], [%[wp], #" W "]\n\t"      \
  "ldr %[a1], [%[wp], #" W "+4]\n\t"    \
  "ldr %[a2], [%[wp], #" W "+8]\n\t"    \
  "ldr %[a3], [%[wp], #" W "+12]\n\t"
#define TM2_DWS2S_PIXEL2(RQ, SH, CH, ROW)                                                                 \
  TM2_DWS2S_BIAS("136") TM2_DWS2S_FIRST(#CH) TM2_DWS2S_MACS("16") TM2_DWS2S_PAIRS(#ROW, #ROW "+" #CH, "32") \
      TM2_DWS2S_PAIRS("2*" #CH, #ROW "+2*" #CH, "48") TM2_DWS2S_TAIL2_##RQ(#CH, #SH)
#define TM2_DWS2S_PIXEL3(RQ, SH, CH, ROW)                                                                 \
  TM2_DWS2S_BIAS("0") TM2_DWS2S_FIRST(#CH) TM2_DWS2S_MACS("16") TM2_DWS2S_PAIRS(#ROW, #ROW "+" #CH, "32")   \
      TM2_DWS2S_PAIRS("2*" #CH, #ROW "+2*" #CH, "48") TM2_DWS2S_PAIRS("2*" #ROW, "2*" #ROW "+" #CH, "64")   \
          TM2_DWS2S_TAIL_##RQ("2*" #ROW "+2*" #CH, #CH, #SH)
/* The right edge pixel after a quad's interior pixels (EDGE 1): its input columns 2 ox, 2 ox + 1 (column 2 ox + 2
 * lies outside the input) on the interior record's weights and requantisation, with the biases of the record of shift
 * -1 right before it (its taps (0, tap 0, tap 1): the input offset folded in over those two columns), words 0 .. 3
 * (run) or 34 .. 37 (run2). */
#define TM2_DWS2S_EDGE3(RQ, SH, CH, ROW)                                                                  \
  TM2_DWS2S_BIAS("-152") TM2_DWS2S_FIRST(#CH) TM2_DWS2S_MACS("16") TM2_DWS2S_PAIRS(#ROW, #ROW "+" #CH, "32") \
      TM2_DWS2S_PAIRS("2*" #ROW, "2*" #ROW "+" #CH, "64") TM2_DWS2S_TAIL2_##RQ(#CH, #SH)
#define TM2_DWS2S_EDGE2(RQ, SH, CH, ROW) \
  TM2_DWS2S_BIAS("-16") TM2_DWS2S_FIRST(#CH) TM2_DWS2S_MACS("16") TM2_DWS2S_PAIRS(#ROW, #ROW "+" #CH, "32") \
      TM2_DWS2S_TAIL2_##RQ(#CH, #SH)
#define TM2_DWS2S_EDGE_0(PIXEL) ""
#define TM2_DWS2S_EDGE_1(PIXEL) PIXEL
/* A run: the pixel loop, two pixels a step where PAIRS (N odd: the loop entered at its second pixel, which has the
 * end test), the edge pixel EPIXEL; after a quad's run the input pointer moves back to its first pixel and on to the
 * next quad (2 (N + EDGE) CH - 4 bytes back), the output to the next quad's first pixel ((N + EDGE) CH - 4 bytes
 * back: the run's end after the last quad, oq) and the end four bytes on, the record pointer by RECS records, all
 * immediates (within 12 bits: 2 (N + 1) CH <= ROW + CH, tinym2net/ops/packing.py dw3x3_s2_spec). Not inlined: the
 * assembly takes every register. */
#define TM2_DWS2S_RUN(fname, PIXEL, EPIXEL, CH, EDGE, N, RECS, PAIRS)                                                  \
  __attribute__((noinline)) static void fname(const int8_t *p, int32_t nq, const int32_t *rec, int8_t *o) {    \
    uint32_t a0, a1, a2, a3, t0, t1, t2, t3, t4, t5, t6;                                                        \
    int8_t *oe = o + (N) * (CH), *const oq = o + 4 * nq;                                                       \
    __asm__ volatile(                                                                                           \
        ".if 2*" #CH " <= 255\n\t"                                                                              \
        ".set tm2_dws2s_d, 2*" #CH "\n\t"                                                                       \
        ".else\n\t"                                                                                             \
        ".set tm2_dws2s_d, 0\n\t"                                                                               \
        ".endif\n\t"                                                                                            \
        ".if " #PAIRS "\n\t"                                                                                    \
        ".if (" #N ") & 1\n\t"                                                                                  \
        "b 2f\n\t"                                                                                              \
        ".endif\n\t"                                                                                            \
        "1:\n\t"                                                                                                \
        ".set tm2_dws2s_t, 0\n\t" PIXEL                                                                         \
        ".endif\n\t"                                                                                            \
        "2:\n\t"                                                                                                \
        ".set tm2_dws2s_t, 1\n\t" PIXEL                                                                         \
        ".if " #PAIRS "\n\t"                                                                                    \
        "bne 1b\n\t"                                                                                            \
        ".else\n\t"                                                                                             \
        "bne 2b\n\t"                                                                                            \
        ".endif\n\t"                                                                                            \
        ".set tm2_dws2s_t, 2\n\t" TM2_DWS2S_EDGE_##EDGE(EPIXEL)                                                  \
        "ldr %[t3], %[oq]\n\t"                                                                                  \
        "sub %[p], %[p], #2*((" #N ")+" #EDGE ")*" #CH "-4\n\t"                                                    \
        "sub %[o], %[o], #((" #N ")+" #EDGE ")*" #CH "-4\n\t"                                                      \
        "add %[wp], %[wp], #" #RECS "*152\n\t"                                                              \
        "add %[t5], %[t5], #4\n\t"                                                                              \
        "str %[t5], %[oe]\n\t"                                                                                  \
        "cmp %[o], %[t3]\n\t"                                                                                   \
        ".if " #PAIRS " > ((" #N ") & 1)\n\t"                                                                     \
        "bne 1b\n\t"                                                                                            \
        ".else\n\t"                                                                                             \
        "bne 2b\n\t"                                                                                            \
        ".endif\n\t"                                                                                            \
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [t0] "=&r"(t0), [t1] "=&r"(t1),       \
          [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5), [t6] "=&r"(t6), [p] "+r"(p),          \
          [wp] "+r"(rec), [o] "+r"(o), [oe] "+m"(oe)                                                            \
        : [oq] "m"(oq)                                                                                          \
        : "cc", "memory");                                                                                      \
  }
/* The runs of one layer shape: SH the shift E of form E (0 for LOW), EDGE 1 where the layer has a right edge pixel,
 * N its interior pixels, RECS the records a quad (tinym2net/ops/packing.py dw3x3_s2_spec); run2 (one output row of a
 * layer) one pixel a loop step, in less code. */
#define TM2_DWS2_SPEC(name, RQ, SH, CH, ROW, EDGE, N, RECS)                                         \
  TM2_DWS2S_RUN(name##_run, TM2_DWS2S_PIXEL3(RQ, SH, CH, ROW), TM2_DWS2S_EDGE3(RQ, SH, CH, ROW), CH, EDGE, N, \
                RECS, 1)                                                                                       \
  TM2_DWS2S_RUN(name##_run2, TM2_DWS2S_PIXEL2(RQ, SH, CH, ROW), TM2_DWS2S_EDGE2(RQ, SH, CH, ROW), CH, EDGE, N, \
                RECS, 0)                                                                                       \
  static const tm2_dws2_spec name = {name##_run, name##_run2, TM2_DWS2_FORM_##RQ, SH, CH, ROW, EDGE, N, RECS};
#define TM2_DWS2_SPEC_REF(name) (&name)
#else
#define TM2_DW_S2_APPLIES(p) 0
/* Without the DSP extension: no specialised run (tm2_depthwise3x3_s8_s2_spec makes the layer's usual call). */
#define TM2_DWS2_SPEC(name, RQ, SH, CH, ROW, EDGE, N, RECS)
#define TM2_DWS2_SPEC_REF(name) NULL
#endif

/* The words of a record of the stride-2 kernel (its layout: tm2_dw_s2_dsp.c). */
#define TM2_DWS2_REC_WORDS 38

/* tm2_depthwise3x3_s8_s2_spec for a layer whose every row spec's runs take (tinym2net/ops/packing.py dw3x3_s2_whole:
 * no padding before the input, spec built for the layer): with the DSP extension those runs alone, neither the
 * generic run nor the kernels of the other forms referenced; without it tm2_depthwise3x3_s8_s2_spec's call. Inline:
 * the generated code's constant parameters fold into the calls of the runs. */
static inline void tm2_depthwise3x3_s8_s2_whole(const tm2_dw3x3_packed_params *p, const int8_t *input,
                                                const int32_t *weights, const int32_t *bias, const tm2_rq *rq,
                                                void *scratch, int8_t *output, const tm2_dws2_spec *spec) {
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
  /* pad_w 0: the interior pixels from input column 0, then (spec->edge) the right edge pixel on the record before
   * the interior one; pad_h 0: filter rows 0 and 1 of every output row (out_h >= 1) inside the input, row 2 too but
   * in the last row where 2 out_h >= in_h (run2) */
  (void)bias, (void)rq, (void)scratch;
  const int32_t ch = p->channels, out_h = p->out_h, nq = ch >> 2;
  const size_t in_row = (size_t)p->in_w * ch, out_row = (size_t)p->out_w * ch;
  const int32_t *const rec = weights + (size_t)ch * 6 + spec->edge * TM2_DWS2_REC_WORDS;
  const tm2_dws2_run_fn last = 2 * out_h >= p->in_h ? spec->run2 : spec->run; /* the last output row's */
  for (int32_t b = 0; b < p->batches; ++b, input += (size_t)p->in_h * in_row) {
    const int8_t *in = input;
    for (int32_t oy = 1; oy < out_h; ++oy, in += 2 * in_row, output += out_row) spec->run(in, nq, rec, output);
    last(in, nq, rec, output);
    output += out_row;
  }
#else
  tm2_depthwise3x3_s8_s2_spec(p, input, weights, bias, rq, scratch, output, spec);
#endif
}

#ifdef __cplusplus
}
#endif
#endif
