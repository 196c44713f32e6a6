/* tinym2net: the column loops of tm2_depthwise3x3_s8_planes for groups of six outputs (stride 1, output offset
 * -128, full int8 range, columns of 6k or 6k + 1 outputs), specialised on a layer's constants. Hand-written for
 * tinym2net. C99, no heap, no state.
 *
 * The generic loop (tm2_dw_plane_cols6 in tm2_dw_dsp.c) reads the output stride, the group count and the plane
 * column length at run time. The generated model code instantiates TM2_DW_PLANE_SPEC once per distinct
 * (E, chm, rl2, rows, columns) of its stride-1 depthwise layers and passes the descriptor to
 * tm2_depthwise3x3_s8_planes_spec; the kernel calls its column loop where the layer matches it and the generic
 * loop otherwise (and always without the DSP extension, where the descriptor holds no loop). */
#ifndef TM2_DW_PLANE6_H
#define TM2_DW_PLANE6_H
#include <stddef.h>
#include <stdint.h>

#include "tm2_conv_dsp.h"
#include "tm2_dsp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A column loop's arguments for a layer (one batch): planes, channel 0's plane column 0 (channels' planes ps2
 * bytes apart); ncols output columns; weights, bias (or NULL) and rq: the layer's (packed weights, six words a
 * channel); out: the first output of channel 0, columns ostep bytes apart. src: NULL, or (a loop on records) the
 * input's channel 0 of row 0 of column 0, from which the loop transposes each of its channel groups itself (the
 * descriptor's transpose: to dst, off2, in_w input columns; see tm2_dw6_tr) before their columns. */
typedef struct {
  const int16_t *planes;
  int32_t ps2, ncols;
  const uint32_t *weights;
  const int32_t *bias;
  const tm2_rq *rq;
  int8_t *out;
  int32_t ostep;
  const int8_t *src;
  uint32_t *dst;
  uint32_t off2;
  int32_t in_w;
} tm2_dw6_args;

/* A column loop: every output column of channels c0 .. c0 + n - 1, whose planes are a->planes' (plane columns
 * rl2 bytes apart), outputs out_w * channels bytes apart along a column. */
typedef void (*tm2_dw6_cols)(const tm2_dw6_args *a, int32_t c0, int32_t n);

/* The planes of a channel pair or quad from the input (a specialised tm2_dw_planes_pair / tm2_dw_planes_quad):
 * src, channel 0's byte of row 0 of input column 0; dst, the word of the first row pair of plane 0's column 0
 * (the next planes ps bytes on each); off2, the input offset in both halves; ncols input columns. The padding lanes
 * are not written: they keep the zeros the caller cleared the planes to. */
typedef void (*tm2_dw6_tr)(const int8_t *src, uint32_t *dst, uint32_t off2, int32_t ncols);

/* A specialised column loop and the layer constants it was built for: e, the shift E of the requantisation
 * entries' third word (0: TM2_RQ_HIGHMUL without E); chm, the output stride along a column (out_w * channels);
 * rl2, the bytes of one plane column (2 plane_len); rows, the outputs of a column (out_h); ncols, the output
 * columns (out_w; 0: any). cols: NULL without the DSP extension. tr: the layer's transpose of g channels (2 or
 * 4; NULL: none, or no DSP extension), for in_h input rows, pad_h & 1 head, input rows row bytes apart, ch
 * channels, planes ps bytes apart. */
typedef struct {
  tm2_dw6_cols cols;
  int32_t e, chm, rl2, rows, ncols;
  tm2_dw6_tr tr;
  int32_t in_h, head, row, ch, ps, g;
  int32_t rec; /* 1: cols takes the layer's records (TM2_DW_PLANE_SPEC_REC), only through the _whole entry */
} tm2_dw6_spec;

/* tm2_depthwise3x3_s8_planes with a specialised column loop (or NULL: none). */
void tm2_depthwise3x3_s8_planes_spec(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                     const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output,
                                     const tm2_dw6_spec *spec);

/* tm2_depthwise3x3_s8_planes for a layer spec covers whole: every channel group through spec's transpose and
 * column loop (the generator takes it where dw3x3_plane_spec lists the layer's plane_ch in "whole"; a layer it
 * does not cover traps). It references neither the generic loops nor the generic transposes, so a model whose
 * planes layers all take it links none of them. With a records descriptor (spec->rec, TM2_DW_PLANE_SPEC_REC),
 * weights are the layer's records (packing.dw3x3_plane_records) and bias and rq are not read. Without the DSP
 * extension: tm2_depthwise3x3_s8_planes. */
void tm2_depthwise3x3_s8_planes_whole(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                      const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output,
                                      const tm2_dw6_spec *spec);

/* tm2_depthwise3x3_s8_planes for a layer of 3 x 3 maps that tm2_dw3x3_s8_small3 takes (TM2_DW3S_APPLIES: stride 1,
 * padding 1, TM2_RQ_HIGHMUL of output offset -128, the full int8 range, the output on the input or apart; the
 * generator takes it where packing.dw3x3_small3 holds; any other layer traps): that loop alone, neither the planes'
 * loops nor the stride-2 kernel referenced; scratch not used. Without the DSP extension:
 * tm2_depthwise3x3_s8_planes. */
void tm2_depthwise3x3_s8_planes_small3(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                       const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output);

#if TM2_CONV_USE_DSP
/* (lo half of a, lo half of b) and (hi half of a, hi half of b) */
static inline uint32_t tm2_pkhbt16(uint32_t a, uint32_t b) {
  uint32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline uint32_t tm2_pkhtb16(uint32_t a, uint32_t b) {
  uint32_t r;
  __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
  return r;
}

/* The plane kernel's weights of one channel (TM2_DWP): wc, its six packed words (w_y0, w_y1), (w_y1, w_y2) of
 * rows y = 0, 1, 2, to t: the filter transposed, per column x (w0x, w1x), (w1x, w2x), doubled (so the
 * requantisation skips its doubling); lanes regrouped with PKHBT / PKHTB, doubled with SADD16. */
static inline void tm2_dw_plane_weights(const uint32_t *wc, uint32_t *t) {
  const uint32_t a0 = wc[0], a1 = wc[2], a2 = wc[4]; /* (w_y0, w_y1) */
  const uint32_t b0 = wc[1], b1 = wc[3], b2 = wc[5]; /* (w_y1, w_y2) */
  uint32_t v;
  v = tm2_pkhbt16(a0, a1), t[0] = __sadd16(v, v); /* (w00, w10) */
  v = tm2_pkhbt16(a1, a2), t[1] = __sadd16(v, v); /* (w10, w20) */
  v = tm2_pkhtb16(a0, a1), t[2] = __sadd16(v, v); /* (w01, w11) */
  v = tm2_pkhtb16(a1, a2), t[3] = __sadd16(v, v); /* (w11, w21) */
  v = tm2_pkhtb16(b0, b1), t[4] = __sadd16(v, v); /* (w02, w12) */
  v = tm2_pkhtb16(b1, b2), t[5] = __sadd16(v, v); /* (w12, w22) */
}

/* The low (SMULBB) and high (SMULTB) halfword of a times the low halfword of p */
static inline uint32_t tm2_smulbb(uint32_t a, uint32_t p) {
  uint32_t r;
  __asm__("smulbb %0, %1, %2" : "=r"(r) : "r"(a), "r"(p));
  return r;
}
static inline uint32_t tm2_smultb(uint32_t a, uint32_t p) {
  uint32_t r;
  __asm__("smultb %0, %1, %2" : "=r"(r) : "r"(a), "r"(p));
  return r;
}

/* The same weights times p = 2^s (s <= 14, so p is an int16) instead of doubled: the TM2_RQ_HIGHMUL_E scale of the
 * channel (s = k + 1). Each of the nine weights is multiplied once (SMULBB / SMULTB: w_y0, w_y1 of a word (w_y0,
 * w_y1), w_y2 of (w_y1, w_y2); in assembly, one instruction each, where GCC would extend and shift the C products
 * in two); PKHBT pairs the low halves of the products. */
static inline void tm2_dw_plane_weights_scaled(const uint32_t *wc, int32_t p, uint32_t *t) {
  const uint32_t a0 = wc[0], a1 = wc[2], a2 = wc[4]; /* (w_y0, w_y1) */
  const uint32_t b0 = wc[1], b1 = wc[3], b2 = wc[5]; /* (w_y1, w_y2) */
  const uint32_t q = (uint32_t)p;
  const uint32_t w00 = tm2_smulbb(a0, q), w01 = tm2_smultb(a0, q), w02 = tm2_smultb(b0, q);
  const uint32_t w10 = tm2_smulbb(a1, q), w11 = tm2_smultb(a1, q), w12 = tm2_smultb(b1, q);
  const uint32_t w20 = tm2_smulbb(a2, q), w21 = tm2_smultb(a2, q), w22 = tm2_smultb(b2, q);
  t[0] = tm2_pkhbt16(w00, w10), t[1] = tm2_pkhbt16(w10, w20); /* (w00, w10), (w10, w20) */
  t[2] = tm2_pkhbt16(w01, w11), t[3] = tm2_pkhbt16(w11, w21); /* (w01, w11), (w11, w21) */
  t[4] = tm2_pkhbt16(w02, w12), t[5] = tm2_pkhbt16(w12, w22); /* (w02, w12), (w12, w22) */
}

/* One channel's words for the six-output loops: its transposed weights w (tm2_dw_plane_weights), bias *bs and
 * hz *hs. E 0: TM2_RQ_HIGHMUL, weights and bias doubled, hz as in the entry q; otherwise TM2_RQ_HIGHMUL_E of
 * shift E, weights and bias scaled by 2^(k + 1) = 2^(E + 1 - e) and hz' = 2^k hz + 2^(k-1) (see
 * dw3x3_plane_shift in packing.py). */
static inline void tm2_dw6_channel(const uint32_t *wc, const int32_t *bias, const tm2_rq *q, int32_t E, uint32_t *w,
                                   int32_t *bs, int32_t *hs) {
  const int32_t sc = E ? E + 1 - q->sh : 1; /* the scale's exponent k + 1 (1: doubled) */
  if (E) {
    tm2_dw_plane_weights_scaled(wc, (int32_t)1 << sc, w);
  } else {
    tm2_dw_plane_weights(wc, w);
  }
  *bs = bias != NULL ? (int32_t)((uint32_t)*bias << sc) : 0;
  *hs = E ? (int32_t)(((uint32_t)q->hi << (sc - 1)) + (1u << (sc - 2))) : q->hi;
}

/* The specialised loop (TM2_DW6S): a whole output column in straight-line code, the groups of six outputs
 * unrolled by the assembler (.rept; tm2_dw6_g counts them), every address an immediate offset from the
 * plane column 0 of the column (ra, plus tm2_dw6_ra where the columns are unrolled too) or from the group's
 * first output (o): plane row R of group g (R 0, rl2, 2 rl2: ra, rb, rc of the generic loop) at
 * ra + tm2_dw6_ra + R + 12 g, output k of a group at o + k chm, o moving on 6 chm a group. The two row
 * pointers so freed keep four of the channel's six weight words in registers: r11, r12 hold row b's (w2, w3)
 * for the whole channel, r9, r10 row a's (w0, w1) or row c's (w4, w5). Even units (groups and last outputs,
 * tm2_dw6_u counts them) take the rows in the order a, b, c (loading w4, w5), odd ones c, b, a (loading w0,
 * w1): two weight loads a group instead of six. With E 0 the requantisation's e takes r10, and each unit's
 * first row reloads its second weight word. */
/* The offset of taps D bytes on in plane row R of the current group (an assembler expression) */
#define TM2_DW6S_AT(R, D) "#(" R " + tm2_dw6_ra + 12 * tm2_dw6_g + " D ")"
/* Plane rows a, b, c */
#define TM2_DW6S_RA "0"
#define TM2_DW6S_RB "%c[rl2]"
#define TM2_DW6S_RC "2 * %c[rl2]"
/* The first row of a group (R, weights WA, WB in registers; sums from the bias in r5), as TM2_DW6_HEAD */
#define TM2_DW6S_HEAD(R, WA, WB)                              \
  "ldr r6, [%[ra], " TM2_DW6S_AT(R, "0") "]\n\t"             \
  "ldr r8, [%[ra], " TM2_DW6S_AT(R, "4") "]\n\t"             \
  "smlad r0, r6, " WA ", r5\n\t"                              \
  "smlatb r1, r6, " WA ", r5\n\t"                             \
  "smlad r2, r8, " WA ", r5\n\t"                              \
  "smlatb r3, r8, " WA ", r5\n\t"                             \
  "smlabt r0, r8, " WB ", r0\n\t"                             \
  "smlad r1, r8, " WB ", r1\n\t"                              \
  "ldrd r6, r8, [%[ra], " TM2_DW6S_AT(R, "8") "]\n\t"        \
  "smlabt r2, r6, " WB ", r2\n\t"                             \
  "smlad r3, r6, " WB ", r3\n\t"                              \
  "smlad r4, r6, " WA ", r5\n\t"                              \
  "smlabt r4, r8, " WB ", r4\n\t"                             \
  "smlatb r5, r6, " WA ", r5\n\t"                             \
  "smlad r5, r8, " WB ", r5\n\t"
/* A further row, as TM2_DW6_ROW */
#define TM2_DW6S_ROW(R, WA, WB)                               \
  "ldr r6, [%[ra], " TM2_DW6S_AT(R, "0") "]\n\t"             \
  "ldr r8, [%[ra], " TM2_DW6S_AT(R, "4") "]\n\t"             \
  "smlad r0, r6, " WA ", r0\n\t"                              \
  "smlatb r1, r6, " WA ", r1\n\t"                             \
  "smlabt r0, r8, " WB ", r0\n\t"                             \
  "smlad r1, r8, " WB ", r1\n\t"                              \
  "smlad r2, r8, " WA ", r2\n\t"                              \
  "smlatb r3, r8, " WA ", r3\n\t"                             \
  "ldrd r6, r8, [%[ra], " TM2_DW6S_AT(R, "8") "]\n\t"        \
  "smlabt r2, r6, " WB ", r2\n\t"                             \
  "smlad r3, r6, " WB ", r3\n\t"                              \
  "smlad r4, r6, " WA ", r4\n\t"                              \
  "smlatb r5, r6, " WA ", r5\n\t"                             \
  "smlabt r4, r8, " WB ", r4\n\t"                             \
  "smlad r5, r8, " WB ", r5\n\t"
/* A channel's words: in stack slots (w0, w1, w4, w5, bs, mh, es), or with records (tm2_dw6_rec, TM2_DW6R_) in the
 * single registers s0 .. s9 of its record (one VLDM a channel; VMOV to core registers: one cycle, two for a pair,
 * where a load that starts a run takes two and LDRD three). SLOT: the stack slot; S: the single register. */
#define TM2_DW6S_GET(R, SLOT, S) \
  ".if tm2_dw6_rec\n\t" "vmov " R ", " S "\n\t" ".else\n\t" "ldr " R ", %[" SLOT "]\n\t" ".endif\n\t"
/* (r9, r10) = (w0, w1) or (w4, w5) */
#define TM2_DW6S_W01 \
  ".if tm2_dw6_rec\n\t" "vmov r9, r10, s0, s1\n\t" ".else\n\t" "ldr r9, %[w0]\n\t" "ldr r10, %[w1]\n\t" ".endif\n\t"
#define TM2_DW6S_W45 \
  ".if tm2_dw6_rec\n\t" "vmov r9, r10, s2, s3\n\t" ".else\n\t" "ldr r9, %[w4]\n\t" "ldr r10, %[w5]\n\t" ".endif\n\t"
/* The bias into R */
#define TM2_DW6S_BS(R) TM2_DW6S_GET(R, "bs", "s4")
/* With E 0: the reload of a first row's second weight word (slot WB: w1 or w5, single register S: s1 or s3) */
#define TM2_DW6S_RELOAD(WB, S) ".if %c[e] == 0\n\t" TM2_DW6S_GET("r10", WB, S) ".endif\n\t"
/* The requantisation of sum A: TM2_RQ_HIGHMUL_E (m in r6, hz' in r8, E in SSAT) or, for E 0, TM2_RQ_HIGHMUL (e in
 * r10), as TM2_DW6_RQ of the generic loops */
#define TM2_DW6S_RQ(A)                                                                  \
  ".if %c[e]\n\t"                                                                       \
  "smmla " A ", " A ", r6, r8\n\t" "ssat " A ", #8, " A ", asr #%c[e]\n\t"              \
  ".else\n\t"                                                                           \
  "smmlar " A ", " A ", r6, r8\n\t" "asr " A ", " A ", r10\n\t" "ssat " A ", #8, " A "\n\t" \
  ".endif\n\t"
/* m, hz' (or hz) into r6, r8; with E 0, e into r10 */
#define TM2_DW6S_Q                                                                                    \
  ".if tm2_dw6_rec\n\t" "vmov r6, r8, s5, s6\n\t" ".else\n\t" "ldrd r6, r8, %[mh]\n\t" ".endif\n\t"     \
  ".if %c[e] == 0\n\t" TM2_DW6S_GET("r10", "es", "s9") ".endif\n\t"
/* A group: even (rows a, b, c) or odd (c, b, a), without row a where tm2_dw6_sa is set or row c where tm2_dw6_sc
 * is (plane columns of padding: their products are zero; row b then the first); the requantisation; the six
 * stores at immediate offsets. The weight words of the next unit's first row are loaded all the same. */
#define TM2_DW6S_GROUP                                                                                         \
  TM2_DW6S_BS("r5")                                                                                          \
  ".if (tm2_dw6_u & 1) == 0\n\t"                                                                               \
  ".if tm2_dw6_sa == 0\n\t" TM2_DW6S_RELOAD("w1", "s1") TM2_DW6S_HEAD(TM2_DW6S_RA, "r9", "r10")                      \
  TM2_DW6S_ROW(TM2_DW6S_RB, "r11", "r12")                                                                      \
  ".else\n\t" TM2_DW6S_HEAD(TM2_DW6S_RB, "r11", "r12") ".endif\n\t"                                             \
  TM2_DW6S_W45                                                                     \
  ".if tm2_dw6_sc == 0\n\t" TM2_DW6S_ROW(TM2_DW6S_RC, "r9", "r10") ".endif\n\t"                                 \
  ".else\n\t"                                                                                                   \
  ".if tm2_dw6_sc == 0\n\t" TM2_DW6S_RELOAD("w5", "s3") TM2_DW6S_HEAD(TM2_DW6S_RC, "r9", "r10")                      \
  TM2_DW6S_ROW(TM2_DW6S_RB, "r11", "r12")                                                                      \
  ".else\n\t" TM2_DW6S_HEAD(TM2_DW6S_RB, "r11", "r12") ".endif\n\t"                                             \
  TM2_DW6S_W01                                                                     \
  ".if tm2_dw6_sa == 0\n\t" TM2_DW6S_ROW(TM2_DW6S_RA, "r9", "r10") ".endif\n\t"                                 \
  ".endif\n\t" TM2_DW6S_Q                                                                                      \
  TM2_DW6S_RQ("r0") TM2_DW6S_RQ("r1") TM2_DW6S_RQ("r2") TM2_DW6S_RQ("r3") TM2_DW6S_RQ("r4") TM2_DW6S_RQ("r5")    \
  "strb r0, [%[o]]\n\t"                                                                                        \
  "strb r1, [%[o], #%c[chm]]\n\t"                                                                              \
  "strb r2, [%[o], #(2 * %c[chm])]\n\t"                                                                        \
  "strb r3, [%[o], #(3 * %c[chm])]\n\t"                                                                        \
  "strb r4, [%[o], #(4 * %c[chm])]\n\t"                                                                        \
  "strb r5, [%[o], #(5 * %c[chm])]\n\t"                                                                        \
  /* o on to the next group (tm2_dw6_mg: and, after a column's last group, to the next column's first output) */ \
  ".set tm2_dw6_v, 6 * %c[chm]\n\t"                                                                            \
  ".if tm2_dw6_mg && tm2_dw6_g == tm2_dw6_ng - 1\n\t" ".set tm2_dw6_v, tm2_dw6_v + tm2_dw6_d\n\t"             \
  /* (with records, after the last column's: back to the next channel's first output, TM2_DW6R_NEXT) */          \
  ".if tm2_dw6_rec && tm2_dw6_x == %c[cols] - 1\n\t" ".set tm2_dw6_v, tm2_dw6_v - (%c[chm] - 1)\n\t" ".endif\n\t" \
  ".endif\n\t"                                                                                                  \
  ".if tm2_dw6_v < 0\n\t" "sub %[o], %[o], #(-tm2_dw6_v)\n\t"                                                  \
  ".elseif tm2_dw6_v > 0\n\t" "add %[o], %[o], #tm2_dw6_v\n\t" ".endif\n\t"                                     \
  ".set tm2_dw6_u, tm2_dw6_u + 1\n\t"
/* One row of the last output of a column of 6k + 1 (taps t0 .. t2), none where SKIP is set */
#define TM2_DW6S_ONE_ROW(R, WA, WB, SKIP)                     \
  ".if (" SKIP ") == 0\n\t"                                   \
  "ldr r6, [%[ra], " TM2_DW6S_AT(R, "0") "]\n\t"             \
  "ldr r8, [%[ra], " TM2_DW6S_AT(R, "4") "]\n\t"             \
  "smlad r0, r6, " WA ", r0\n\t"                              \
  "smlabt r0, r8, " WB ", r0\n\t"                             \
  ".endif\n\t"
/* That output (tm2_dw6_g: the column's group count; rows in the order of a group of the same unit parity), stored
 * at o */
#define TM2_DW6S_ONE                                                                                           \
  TM2_DW6S_BS("r0")                                                                                          \
  ".if (tm2_dw6_u & 1) == 0\n\t" TM2_DW6S_RELOAD("w1", "s1") TM2_DW6S_ONE_ROW(TM2_DW6S_RA, "r9", "r10", "tm2_dw6_sa") \
  TM2_DW6S_ONE_ROW(TM2_DW6S_RB, "r11", "r12", "0")                                                             \
  TM2_DW6S_W45 TM2_DW6S_ONE_ROW(TM2_DW6S_RC, "r9", "r10", "tm2_dw6_sc")            \
  ".else\n\t" TM2_DW6S_RELOAD("w5", "s3") TM2_DW6S_ONE_ROW(TM2_DW6S_RC, "r9", "r10", "tm2_dw6_sc")                   \
  TM2_DW6S_ONE_ROW(TM2_DW6S_RB, "r11", "r12", "0")                                                             \
  TM2_DW6S_W01 TM2_DW6S_ONE_ROW(TM2_DW6S_RA, "r9", "r10", "tm2_dw6_sa")            \
  ".endif\n\t" TM2_DW6S_Q TM2_DW6S_RQ("r0")                                                                    \
  "strb r0, [%[o]]\n\t"                                                                                        \
  ".set tm2_dw6_u, tm2_dw6_u + 1\n\t"
/* The last outputs of two columns in one unit (columns unrolled, 6k + 1 outputs): that of the column before
 * (plane column rl2 bytes back, output ch bytes back: an STRB offset down to -255) beside the current one's, in
 * r1 and r0, the weight words and requantisation words loaded once for both */
#define TM2_DW6S_AT2(R, D) "#(" R " + tm2_dw6_ra - %c[rl2] + 12 * tm2_dw6_g + " D ")"
/* (the current column's part none where S0 is set, the one before's none where S1 is) */
#define TM2_DW6S_TWO_ROW(R, WA, WB, S0, S1)                   \
  ".if (" S0 ") == 0\n\t"                                     \
  "ldr r6, [%[ra], " TM2_DW6S_AT(R, "0") "]\n\t"             \
  "ldr r8, [%[ra], " TM2_DW6S_AT(R, "4") "]\n\t"             \
  ".endif\n\t"                                                \
  ".if (" S1 ") == 0\n\t"                                     \
  "ldr r2, [%[ra], " TM2_DW6S_AT2(R, "0") "]\n\t"            \
  "ldr r3, [%[ra], " TM2_DW6S_AT2(R, "4") "]\n\t"            \
  ".endif\n\t"                                                \
  ".if (" S0 ") == 0\n\t"                                     \
  "smlad r0, r6, " WA ", r0\n\t"                              \
  "smlabt r0, r8, " WB ", r0\n\t"                             \
  ".endif\n\t"                                                \
  ".if (" S1 ") == 0\n\t"                                     \
  "smlad r1, r2, " WA ", r1\n\t"                              \
  "smlabt r1, r3, " WB ", r1\n\t"                             \
  ".endif\n\t"
#define TM2_DW6S_TWO                                                                                           \
  TM2_DW6S_BS("r0")                                                                                          \
  TM2_DW6S_BS("r1")                                                                                          \
  ".if (tm2_dw6_u & 1) == 0\n\t" TM2_DW6S_RELOAD("w1", "s1") TM2_DW6S_TWO_ROW(TM2_DW6S_RA, "r9", "r10", "tm2_dw6_sa", "tm2_dw6_sa1") \
  TM2_DW6S_TWO_ROW(TM2_DW6S_RB, "r11", "r12", "0", "0")                                                        \
  TM2_DW6S_W45 TM2_DW6S_TWO_ROW(TM2_DW6S_RC, "r9", "r10", "tm2_dw6_sc", "tm2_dw6_sc1") \
  ".else\n\t" TM2_DW6S_RELOAD("w5", "s3") TM2_DW6S_TWO_ROW(TM2_DW6S_RC, "r9", "r10", "tm2_dw6_sc", "tm2_dw6_sc1") \
  TM2_DW6S_TWO_ROW(TM2_DW6S_RB, "r11", "r12", "0", "0")                                                        \
  TM2_DW6S_W01 TM2_DW6S_TWO_ROW(TM2_DW6S_RA, "r9", "r10", "tm2_dw6_sa", "tm2_dw6_sa1") \
  ".endif\n\t" TM2_DW6S_Q TM2_DW6S_RQ("r0") TM2_DW6S_RQ("r1")                                                 \
  "strb r0, [%[o]]\n\t"                                                                                        \
  "strb r1, [%[o], #-tm2_dw6_ch]\n\t"                                                                              \
  ".set tm2_dw6_u, tm2_dw6_u + 1\n\t"
/* An unrolled output column tm2_dw6_x: its groups, and its last output on its own, or (channels up to 255) that
 * of an even column left for the next one, and an odd column's with the one before (TM2_DW6S_TWO) */
#define TM2_DW6S_COLUMN_X                                                                                      \
  ".set tm2_dw6_g, 0\n\t"                                                                                      \
  ".rept tm2_dw6_ng\n\t" TM2_DW6S_GROUP ".set tm2_dw6_g, tm2_dw6_g + 1\n\t"                                   \
  ".endr\n\t"                                                                                                  \
  ".if tm2_dw6_one\n\t"                                                                                            \
  ".if tm2_dw6_ch <= 255 && (tm2_dw6_x & 1) == 0 && tm2_dw6_x + 1 < %c[cols]\n\t"                                   \
  ".elseif tm2_dw6_ch <= 255 && (tm2_dw6_x & 1)\n\t" TM2_DW6S_TWO                                                  \
  ".else\n\t" TM2_DW6S_ONE                                                                                     \
  ".endif\n\t"                                                                                                 \
  ".endif\n\t"
/* An output column: its groups and last output */
#define TM2_DW6S_COLUMN                                                                                        \
  ".set tm2_dw6_g, 0\n\t"                                                                                      \
  ".rept tm2_dw6_ng\n\t" TM2_DW6S_GROUP ".set tm2_dw6_g, tm2_dw6_g + 1\n\t"                                   \
  ".endr\n\t"                                                                                                  \
  ".if tm2_dw6_one\n\t" TM2_DW6S_ONE ".endif\n\t"

/* The specialised transpose of a channel pair or quad (TM2_DW6T): an input column in straight-line code, the
 * pair-outs of tm2_dw_planes_pair / tm2_dw_planes_quad (rows 2 i - head and 2 i - head + 1 of pair-out i, a row
 * outside the input the padding lane) in runs of tm2_dw6t_k: the loads of a run in a row (LDRH a pair's
 * halfword, LDR a quad's word, at immediate offsets), then per pair-out PKHBT (and PKHTB), two (four) SXTAB16
 * and two (four) word stores at immediate offsets (planes 0, 1 from d, ps bytes apart; a quad's planes 2, 3
 * from d2 = d + 2 ps). Runs of four pair-outs (eight loads in r0 .. r5, r12, lr) for a pair, of three for a
 * quad (r12, lr its regrouped words) and for a pair whose eight rows would not fit an offset. The columns are
 * unrolled too where every offset fits (TM2_DW6T_UNROLLED): column x's row r at x ch + r row bytes from s,
 * or from s + 4320 beyond 4095 (offsets -255 .. 4095: a pair's s2, a quad's cc, its column count unread), its
 * stores x rl2 bytes on; no pointer moves.
 * Otherwise a loop over the columns: s moves on by an ADDW where a run's rows would leave the 4095 bytes of the
 * offset (placed after the loads of the run before, so that no load follows it), and back to the next column's
 * row 0 at its end. tm2_dw6t_p: the pair-out; tm2_dw6t_x: the column; tm2_dw6t_b: s's offset from the column's
 * row 0 in the loop (0 unrolled). */
/* A load of row R into A */
#define TM2_DW6T_LOAD(A, R)                                                                    \
  ".set tm2_dw6t_o, tm2_dw6t_x * %c[ch] + (" R ") * %c[row] - tm2_dw6t_b\n\t"                  \
  ".if %c[g] == 4 && tm2_dw6t_o <= 4095\n\t" "ldr " A ", [%[s], #tm2_dw6t_o]\n\t"            \
  ".elseif %c[g] == 4\n\t" "ldr " A ", [%[cc], #(tm2_dw6t_o - 4320)]\n\t"                    \
  ".elseif tm2_dw6t_o <= 4095\n\t" "ldrh " A ", [%[s], #tm2_dw6t_o]\n\t"                     \
  ".else\n\t" "ldrh " A ", [%[s2], #(tm2_dw6t_o - 4320)]\n\t" ".endif\n\t"
/* The loads of pair-out tm2_dw6t_p into A, B */
#define TM2_DW6T_LD(A, B)                                                                      \
  ".set tm2_dw6t_r, 2 * tm2_dw6t_p - %c[head]\n\t"                                            \
  ".if tm2_dw6t_p < tm2_dw6t_n && tm2_dw6t_p < tm2_dw6t_q + tm2_dw6t_k\n\t"                   \
  ".if tm2_dw6t_r >= 0\n\t" TM2_DW6T_LOAD(A, "tm2_dw6t_r") ".endif\n\t"                        \
  ".if tm2_dw6t_r + 1 < %c[inh]\n\t" TM2_DW6T_LOAD(B, "tm2_dw6t_r + 1") ".endif\n\t"          \
  ".endif\n\t"                                                                                \
  ".set tm2_dw6t_p, tm2_dw6t_p + 1\n\t"
/* The store of V to pair-out tm2_dw6t_p's word of the plane J (0 or 1) planes on from P (d or s2, d2) */
#define TM2_DW6T_ST(V, P, J)                                                                                    \
  "str " V ", [%[" P "], #(tm2_dw6t_un * tm2_dw6t_x * %c[rl2] + 4 * tm2_dw6t_p + " J " * %c[ps])]\n\t"
/* The store of V's low half to pair-out tm2_dw6t_p's half H (0: low, 2: high) of the plane J planes on from P */
#define TM2_DW6T_STH(V, P, J, H)                                                                                    \
  "strh " V ", [%[" P "], #(tm2_dw6t_un * tm2_dw6t_x * %c[rl2] + 4 * tm2_dw6t_p + " J " * %c[ps] + " H ")]\n\t"
/* Pair-out tm2_dw6t_p from A, B. With a row outside the input (the first pair-out with a head, the last with a
 * tail) only the other row's halves are stored (the row in X at half H): the padding lanes keep the zeros the
 * planes were cleared to (those of a padding byte -input_offset), so no PKHBT / PKHTB joins them; a quad's planes 2, 3
 * from the high lanes by LSR. */
#define TM2_DW6T_EDGE(A, B, X, H)                                                                            \
  ".if %c[g] == 4\n\t"                                                                                    \
  "sxtab16 r12, %[off2], " X "\n\t"                                                                      \
  "sxtab16 lr, %[off2], " X ", ror #8\n\t"                                                               \
  TM2_DW6T_STH("r12", "d", "0", H) TM2_DW6T_STH("lr", "d", "1", H)                                         \
  "lsr r12, r12, #16\n\t"                                                                                 \
  "lsr lr, lr, #16\n\t"                                                                                   \
  TM2_DW6T_STH("r12", "s2", "0", H) TM2_DW6T_STH("lr", "s2", "1", H)                                       \
  ".else\n\t" /* (X, which is A or B, written last) */                                                    \
  ".ifc " X ", " A "\n\t" "sxtab16 " B ", %[off2], " X ", ror #8\n\t" "sxtab16 " A ", %[off2], " X "\n\t" \
  ".else\n\t" "sxtab16 " A ", %[off2], " X "\n\t" "sxtab16 " B ", %[off2], " X ", ror #8\n\t" ".endif\n\t" \
  TM2_DW6T_STH(A, "d", "0", H)                                                                            \
  ".if tm2_dw6t_d1\n\t" TM2_DW6T_STH(B, "s2", "0", H) ".else\n\t" TM2_DW6T_STH(B, "d", "1", H) ".endif\n\t" \
  ".endif\n\t"
#define TM2_DW6T_OUT(A, B)                                                                                   \
  ".set tm2_dw6t_r, 2 * tm2_dw6t_p - %c[head]\n\t"                                                        \
  ".if tm2_dw6t_p < tm2_dw6t_n && tm2_dw6t_p < tm2_dw6t_q + tm2_dw6t_k\n\t"                               \
  ".if tm2_dw6t_r < 0\n\t" TM2_DW6T_EDGE(A, B, B, "2")                                                      \
  ".elseif tm2_dw6t_r + 1 >= %c[inh]\n\t" TM2_DW6T_EDGE(A, B, A, "0")                                       \
  ".elseif %c[g] == 4\n\t"                                                                                \
  "pkhbt r12, " A ", " B ", lsl #16\n\t" "pkhtb lr, " B ", " A ", asr #16\n\t"                             \
  "sxtab16 " A ", %[off2], r12\n\t"                                                                       \
  "sxtab16 " B ", %[off2], r12, ror #8\n\t"                                                               \
  "sxtab16 r12, %[off2], lr\n\t"                                                                          \
  "sxtab16 lr, %[off2], lr, ror #8\n\t"                                                                   \
  TM2_DW6T_ST(A, "d", "0") TM2_DW6T_ST(B, "d", "1") TM2_DW6T_ST("r12", "s2", "0") TM2_DW6T_ST("lr", "s2", "1") \
  ".else\n\t"                                                                                             \
  "pkhbt " A ", " A ", " B ", lsl #16\n\t"                                                                \
  "sxtab16 " B ", %[off2], " A ", ror #8\n\t"                                                              \
  "sxtab16 " A ", %[off2], " A "\n\t"                                                                      \
  TM2_DW6T_ST(A, "d", "0")                                                                                \
  ".if tm2_dw6t_d1\n\t" TM2_DW6T_ST(B, "s2", "0") ".else\n\t" TM2_DW6T_ST(B, "d", "1") ".endif\n\t"        \
  ".endif\n\t"                                                                                            \
  ".endif\n\t"                                                                                            \
  ".set tm2_dw6t_p, tm2_dw6t_p + 1\n\t"
/* s2 = d + D (any D > 0: ADDWs of at most 4095) */
#define TM2_DW6T_D2(D)                                                                                        \
  ".if (" D ") <= 4095\n\t" "addw %[s2], %[d], #(" D ")\n\t"                                              \
  ".else\n\t" "addw %[s2], %[d], #4095\n\t"                                                               \
  ".rept ((" D ") - 4095) / 4095\n\t" "addw %[s2], %[s2], #4095\n\t" ".endr\n\t"                        \
  ".if ((" D ") - 4095) %% 4095\n\t" "addw %[s2], %[s2], #(((" D ") - 4095) %% 4095)\n\t" ".endif\n\t"  \
  ".endif\n\t"
/* s on by D bytes (any D >= 0: ADDWs of at most 4095) */
#define TM2_DW6T_ADVANCE(D)                                                                    \
  ".rept (" D ") / 4095\n\t" "addw %[s], %[s], #4095\n\t" ".endr\n\t"                     \
  ".if (" D ") %% 4095\n\t" "addw %[s], %[s], #((" D ") %% 4095)\n\t" ".endif\n\t"
/* The run of pair-outs tm2_dw6t_q .. + tm2_dw6t_k - 1: loads, s moved on for the next run where needed (loop),
 * pair-outs */
#define TM2_DW6T_RUN                                                                           \
  ".set tm2_dw6t_p, tm2_dw6t_q\n\t"                                                          \
  TM2_DW6T_LD("r0", "r1") TM2_DW6T_LD("r2", "r3") TM2_DW6T_LD("r4", "r5") TM2_DW6T_LD("r12", "lr") \
  ".set tm2_dw6t_f, 2 * (tm2_dw6t_q + tm2_dw6t_k) - %c[head]\n\t" /* the next run's first and last rows */ \
  ".set tm2_dw6t_l, tm2_dw6t_f + 2 * tm2_dw6t_k - 1\n\t"                                     \
  ".if tm2_dw6t_l >= %c[inh]\n\t" ".set tm2_dw6t_l, %c[inh] - 1\n\t" ".endif\n\t"         \
  ".if tm2_dw6t_un == 0 && tm2_dw6t_q + tm2_dw6t_k < tm2_dw6t_n && tm2_dw6t_l * %c[row] - tm2_dw6t_b > 4095\n\t" \
  TM2_DW6T_ADVANCE("tm2_dw6t_f * %c[row] - tm2_dw6t_b") ".set tm2_dw6t_b, tm2_dw6t_f * %c[row]\n\t" \
  ".endif\n\t"                                                                               \
  ".set tm2_dw6t_p, tm2_dw6t_q\n\t"                                                          \
  TM2_DW6T_OUT("r0", "r1") TM2_DW6T_OUT("r2", "r3") TM2_DW6T_OUT("r4", "r5") TM2_DW6T_OUT("r12", "lr") \
  ".set tm2_dw6t_q, tm2_dw6t_q + tm2_dw6t_k\n\t"
/* A column's runs */
#define TM2_DW6T_COLUMN                                                                        \
  ".set tm2_dw6t_q, 0\n\t"                                                                   \
  ".rept (tm2_dw6t_n + tm2_dw6t_k - 1) / tm2_dw6t_k\n\t" TM2_DW6T_RUN ".endr\n\t"
/* Whether the columns are unrolled (an assembler expression): the last column's last load within reach of s +
 * 4320, its last store within an STR offset, at most 80 pair-outs of a pair, 32 of a quad (vww's 6 x 6 x 128: 24;
 * about 48 bytes of code each) */
#define TM2_DW6T_UNROLLED                                                                                   \
  "((%c[row] / %c[ch] - 1) * %c[ch] + (%c[inh] - 1) * %c[row] <= 4320 + 4095 && "                          \
  "(%c[row] / %c[ch] - 1) * %c[rl2] + %c[ps] + 4 * (tm2_dw6t_n - 1) <= 4095 && "                           \
  "((%c[g] == 2 && %c[row] / %c[ch] * tm2_dw6t_n <= 80) || (%c[g] == 4 && %c[row] / %c[ch] * tm2_dw6t_n <= 32)))"
/* Defines NAME##_tr (a tm2_dw6_tr) of G channels (2 or 4) for INH input rows, HEAD (pad_h & 1), input rows ROW
 * bytes apart, CH channels (so ROW / CH input columns: ncols is not read where they are unrolled), planes PS
 * bytes apart, plane columns RL2 bytes apart. The layer's checks (tinym2net/ops/packing.py, dw3x3_plane_spec)
 * keep the loop's loads in range (a run's rows within 4095 bytes: at least six rows, 5 ROW); a pair's plane 1
 * stores go from d2 = d + PS (in s2) where they would not fit an offset from d, and a quad's transpose is only
 * taken where they do (TM2_DW6T_QUAD_FITS). */
#define TM2_DW6T_DEFINE(NAME, ATTR, INH, HEAD, ROW, CH, PS, RL2, G)                                          \
  ATTR void NAME##_tr(const int8_t *src, uint32_t *dst, uint32_t off2, int32_t ncols) {                       \
    const int8_t *s = src, *s2;                                                                               \
    uint32_t *d = dst;                                                                                        \
    int32_t cc = ncols;                                                                                       \
    __asm__ volatile(                                                                                         \
        ".set tm2_dw6t_n, %c[head] + (%c[inh] - %c[head] + 1) / 2\n\t"                                       \
        ".set tm2_dw6t_k, 3 + (%c[g] == 2 && 7 * %c[row] <= 4095)\n\t"                                       \
        ".set tm2_dw6t_b, 0\n\t"                                                                             \
        ".set tm2_dw6t_x, 0\n\t"                                                                             \
        ".set tm2_dw6t_un, " TM2_DW6T_UNROLLED "\n\t"                                                        \
        /* a pair's plane 1 from d2 = d + ps where its last store would not fit an offset from d */          \
        ".set tm2_dw6t_d1, %c[g] == 2 && %c[ps] + 4 * (tm2_dw6t_n - 1) > 4095\n\t"                            \
        ".if tm2_dw6t_un\n\t"                                                                                \
        ".if %c[g] == 4\n\t" TM2_DW6T_D2("2 * %c[ps]") "add %[cc], %[s], #4320\n\t"                       \
        ".else\n\t" "add %[s2], %[s], #4320\n\t" ".endif\n\t"                                             \
        ".rept %c[row] / %c[ch]\n\t" TM2_DW6T_COLUMN ".set tm2_dw6t_x, tm2_dw6t_x + 1\n\t" ".endr\n\t"        \
        ".else\n\t"                                                                                          \
        ".if %c[g] == 4\n\t" TM2_DW6T_D2("2 * %c[ps]") ".endif\n\t"                                        \
        ".if tm2_dw6t_d1\n\t" TM2_DW6T_D2("%c[ps]") ".endif\n"                                               \
        "1:\n\t"                                                                                              \
        ".set tm2_dw6t_b, 0\n\t" TM2_DW6T_COLUMN                                                             \
        "add %[d], %[d], #%c[rl2]\n\t"                                                                       \
        ".if %c[g] == 4 || tm2_dw6t_d1\n\t" "add %[s2], %[s2], #%c[rl2]\n\t" ".endif\n\t"                   \
        ".if %c[ch] >= tm2_dw6t_b\n\t" TM2_DW6T_ADVANCE("%c[ch] - tm2_dw6t_b")                              \
        ".else\n\t"                                                                                          \
        ".rept (tm2_dw6t_b - %c[ch]) / 4095\n\t" "subw %[s], %[s], #4095\n\t" ".endr\n\t"                 \
        ".if (tm2_dw6t_b - %c[ch]) %% 4095\n\t" "subw %[s], %[s], #((tm2_dw6t_b - %c[ch]) %% 4095)\n\t" ".endif\n\t" \
        ".endif\n\t"                                                                                         \
        "subs %[cc], %[cc], #1\n\t"                                                                          \
        "bne 1b\n\t"                                                                                         \
        ".endif\n\t"                                                                                         \
        : [s] "+r"(s), [d] "+r"(d), [cc] "+r"(cc), [s2] "=&r"(s2)                                             \
        : [off2] "r"(off2), [inh] "i"(INH), [head] "i"(HEAD), [row] "i"(ROW), [ch] "i"(CH),     \
          [ps] "i"(PS), [rl2] "i"(RL2), [g] "i"(G)                                                            \
        : "r0", "r1", "r2", "r3", "r4", "r5", "r12", "lr", "cc", "memory");                                   \
  }

/* Whether a quad's planes 1 and 3 are within a store offset of planes 0 and 2 (PS + 4 (pair-outs - 1) <= 4095;
 * else no specialised transpose) */
#define TM2_DW6T_QUAD_FITS(INH, HEAD, PS) ((PS) + 4 * ((HEAD) + ((INH) - (HEAD) + 1) / 2 - 1) <= 4095)
/* Whether a descriptor of INH input rows (0: none), HEAD, planes PS bytes apart and G channels a call has its
 * transpose: a pair's, or a quad's whose planes 1 and 3 fit */
#define TM2_DW6T_BUILT(INH, HEAD, PS, G) ((INH) && ((G) == 2 || ((G) == 4 && TM2_DW6T_QUAD_FITS(INH, HEAD, PS))))
/* The transpose's function: on its own (the descriptor's tr), or (a loop on records) inlined in the column loop,
 * which transposes the groups itself (tm2_dw6_args' src) */
#define TM2_DW6T_ATTR_0 __attribute__((noinline)) static
#define TM2_DW6T_ATTR_1 __attribute__((always_inline)) static inline

/* A channel's set-up in the loop over the channels (TM2_DW_PLANE_SPEC): its six packed weight words, bias and
 * requantisation entry from the pointers wp, bp, qp (each moved on to the next channel's; bp over zeros for a
 * layer without bias), the words w0, w1, w4, w5 of the transposed filter, bs, (ms, hs) and es into the stack slots
 * the column code reloads, w0 .. w3 into r9 .. r12; ra and o from rap and op (moved on by a plane and one byte);
 * cc from ncols for a loop over the columns. E > 0 (TM2_RQ_HIGHMUL_E): the nine weights times p = 2^sc,
 * sc = E + 1 - e (SMULBB / SMULTB, p in o until o is loaded), paired by PKHBT; bs = bias 2^sc; hs = hz 2^(sc-1) +
 * 2^(sc-2) (see dw3x3_plane_shift in packing.py). E 0 (TM2_RQ_HIGHMUL): the lanes regrouped by PKHBT / PKHTB and
 * doubled (SADD16), bs = 2 bias, hs = hz, es = e (as tm2_dw6_channel). */
#define TM2_DW6S_SETUP                                                                   \
  "ldr r0, %[wp]\n\t"                                                                    \
  "ldr r1, %[qp]\n\t"                                                                    \
  "ldr r2, %[bp]\n\t"                                                                    \
  "ldr r6, [r1, #12]\n\t" /* e */                                                        \
  "ldr r3, [r0]\n\t"      /* a0 = (w00, w01) */                                          \
  "ldr r4, [r0, #8]\n\t"  /* a1 = (w10, w11) */                                          \
  "ldr r5, [r0, #16]\n\t" /* a2 = (w20, w21) */                                          \
  "ldr r8, [r0, #4]\n\t"  /* b0 = (w01, w02) */                                          \
  "ldr r9, [r0, #12]\n\t" /* b1 = (w11, w12) */                                          \
  "ldr r10, [r0, #20]\n\t" /* b2 = (w21, w22) */                                         \
  "ldr r11, [r2]\n\t"     /* bias */                                                     \
  "ldr r12, [r1, #4]\n\t" /* hz */                                                       \
  "ldr %[ra], [r1]\n\t"   /* m */                                                        \
  "add r0, r0, #24\n\t"                                                                  \
  "add r1, r1, #16\n\t"                                                                  \
  "str r0, %[wp]\n\t"                                                                    \
  "str r1, %[qp]\n\t"                                                                    \
  "add r2, r2, #4\n\t"                                                                   \
  "str r2, %[bp]\n\t"                                                                    \
  ".if %c[e]\n\t"                                                                        \
  "rsb r6, r6, #(%c[e] + 1)\n\t" /* sc */                                                \
  "movs %[o], #1\n\t"                                                                    \
  "lsls %[o], %[o], r6\n\t" /* p */                                                      \
  "smulbb r0, r3, %[o]\n\t" /* w00 */                                                    \
  "smulbb r1, r4, %[o]\n\t" /* w10 */                                                    \
  "smulbb r2, r5, %[o]\n\t" /* w20 */                                                    \
  "pkhbt r2, r1, r2, lsl #16\n\t" /* (w10, w20) */                                       \
  "pkhbt r0, r0, r1, lsl #16\n\t" /* (w00, w10) */                                       \
  "smultb r3, r3, %[o]\n\t" /* w01 */                                                    \
  "smultb r4, r4, %[o]\n\t" /* w11 */                                                    \
  "smultb r5, r5, %[o]\n\t" /* w21 */                                                    \
  "pkhbt r5, r4, r5, lsl #16\n\t" /* (w11, w21) */                                       \
  "pkhbt r3, r3, r4, lsl #16\n\t" /* (w01, w11) */                                       \
  "smultb r8, r8, %[o]\n\t" /* w02 */                                                    \
  "smultb r9, r9, %[o]\n\t" /* w12 */                                                    \
  "smultb r10, r10, %[o]\n\t" /* w22 */                                                  \
  "pkhbt r10, r9, r10, lsl #16\n\t" /* (w12, w22) */                                     \
  "pkhbt r8, r8, r9, lsl #16\n\t" /* (w02, w12) */                                       \
  "lsls r11, r11, r6\n\t"                                                                \
  "subs r6, r6, #1\n\t"                                                                  \
  "lsls r12, r12, r6\n\t"                                                                \
  "add r12, r12, %[o], lsr #2\n\t"                                                       \
  ".else\n\t"                                                                            \
  "pkhbt r0, r3, r4, lsl #16\n\t" /* (w00, w10) */                                       \
  "pkhbt r2, r4, r5, lsl #16\n\t" /* (w10, w20) */                                       \
  "pkhtb r3, r4, r3, asr #16\n\t" /* (w01, w11) */                                       \
  "pkhtb r5, r5, r4, asr #16\n\t" /* (w11, w21) */                                       \
  "pkhtb r8, r9, r8, asr #16\n\t" /* (w02, w12) */                                       \
  "pkhtb r10, r10, r9, asr #16\n\t" /* (w12, w22) */                                     \
  "sadd16 r0, r0, r0\n\t"                                                                \
  "sadd16 r2, r2, r2\n\t"                                                                \
  "sadd16 r3, r3, r3\n\t"                                                                \
  "sadd16 r5, r5, r5\n\t"                                                                \
  "sadd16 r8, r8, r8\n\t"                                                                \
  "sadd16 r10, r10, r10\n\t"                                                             \
  "lsls r11, r11, #1\n\t"                                                                \
  "str r6, %[es]\n\t"                                                                    \
  ".endif\n\t"                                                                           \
  "str r0, %[w0]\n\t"                                                                    \
  "str r2, %[w1]\n\t"                                                                    \
  "str r8, %[w4]\n\t"                                                                    \
  "str r10, %[w5]\n\t"                                                                   \
  "str r11, %[bs]\n\t"                                                                   \
  "strd %[ra], r12, %[mh]\n\t"                                                           \
  "ldr %[ra], %[rap]\n\t"                                                                \
  "ldr %[o], %[op]\n\t"                                                                  \
  "ldr r1, %[ps2]\n\t"                                                                   \
  ".if %c[cols] == 0 || %c[inw] == 0 || tm2_dw6_pl == 0\n\t" /* (else the first unit skips row a) */ \
  "mov r9, r0\n\t"                                                                       \
  "mov r10, r2\n\t"                                                                      \
  ".endif\n\t"                                                                           \
  "mov r11, r3\n\t"                                                                      \
  "mov r12, r5\n\t"                                                                      \
  "add r1, %[ra], r1\n\t"                                                                \
  "str r1, %[rap]\n\t"                                                                   \
  "add r1, %[o], #1\n\t"                                                                 \
  "str r1, %[op]\n\t"                                                                    \
  ".if %c[cols] == 0\n\t" "ldr r1, %[ncols]\n\t" "str r1, %[cc]\n\t" ".endif\n\t"

/* The same from a channel's record (TM2_DW_PLANE_SPEC_REC: the words packing.dw3x3_plane_records computes at
 * build time, TM2_DW6R_WORDS a channel: w0, w1, w4, w5, bs, m, hs, w2, w3, and with E 0 es): one VLDM into s0 ..
 * s8 (s9) from the record pointer in s15, w2, w3 into r11, r12 (w0, w1 into r9, r10 where the first unit reads row
 * a). Columns in a loop: ra and o from s10, s11 (moved on by a plane, in s12, and one byte), cc from ncols (s13);
 * unrolled columns keep ra and o in their registers from one channel to the next (TM2_DW6R_NEXT). */
#define TM2_DW6R_SETUP                                                                                   \
  "vmov r0, s15\n\t"                                                                                    \
  ".if %c[e]\n\t" "vldmia r0!, {s0-s8}\n\t" ".else\n\t" "vldmia r0!, {s0-s9}\n\t" ".endif\n\t"        \
  "vmov s15, r0\n\t"                                                                                    \
  "vmov r11, r12, s7, s8\n\t"                                                                          \
  ".if %c[cols] == 0 || %c[inw] == 0 || tm2_dw6_pl == 0\n\t" "vmov r9, r10, s0, s1\n\t" ".endif\n\t"    \
  ".if %c[cols] == 0\n\t"                                                                               \
  "vmov %[ra], %[o], s10, s11\n\t"                                                                     \
  "vmov r0, s12\n\t"                                                                                    \
  "add r0, %[ra], r0\n\t"                                                                               \
  "add r1, %[o], #1\n\t"                                                                                \
  "vmov s10, s11, r0, r1\n\t"                                                                          \
  "vmov r1, s13\n\t"                                                                                    \
  "str r1, %[cc]\n\t"                                                                                   \
  ".endif\n\t"
/* Unrolled columns: ra on by a plane (PS: the transpose's, which the _whole entry checks where a call has more than
 * one channel; in s12 beyond an ADDW) and o back from the next channel's column 0 past the last column (each column
 * moves o on by the channels, tm2_dw6_ch) to the next channel's first output (in the last group's step where
 * columns of 6k outputs join the column step to it, tm2_dw6_mg) */
#define TM2_DW6R_NEXT(PS)                                                                                \
  ".if " #PS " <= 4095\n\t" "addw %[ra], %[ra], #" #PS "\n\t"                                           \
  ".else\n\t" "vmov r0, s12\n\t" "add %[ra], %[ra], r0\n\t" ".endif\n\t"                               \
  ".if tm2_dw6_mg == 0\n\t" "subw %[o], %[o], #(%c[chm] - 1)\n\t" ".endif\n\t"
/* Before the loop over the channels: the record pointer and its end into s15, s14, the plane step into s12 (where
 * TM2_DW6R_NEXT or the set-up reads it); ra and
 * o (unrolled columns) or rap, op and ncols into s10, s11 and s13 (a loop) */
#define TM2_DW6R_INIT(PS)                                                                                \
  "ldr r0, %[wp]\n\t"                                                                                   \
  "ldr r1, %[wend]\n\t"                                                                                 \
  "vmov s14, s15, r1, r0\n\t"                                                                          \
  ".if %c[cols] == 0 || " #PS " > 4095\n\t" "ldr r0, %[ps2]\n\t" "vmov s12, r0\n\t" ".endif\n\t"       \
  ".if %c[cols]\n\t"                                                                                    \
  "ldr %[ra], %[rap]\n\t"                                                                               \
  "ldr %[o], %[op]\n\t"                                                                                 \
  ".else\n\t"                                                                                           \
  "ldr r0, %[rap]\n\t"                                                                                  \
  "ldr r1, %[op]\n\t"                                                                                   \
  "vmov s10, s11, r0, r1\n\t"                                                                          \
  "ldr r1, %[ncols]\n\t"                                                                                \
  "vmov s13, r1\n\t"                                                                                    \
  ".endif\n\t"
/* The words of a channel's record (TM2_DW_PLANE_SPEC_REC) for shift E */
#define TM2_DW6R_WORDS(E) ((E) ? 9 : 10)
/* The single registers the records' loops use (with an FPU; the others name none) */
#if defined(__ARM_FP)
#define TM2_DW6R_CLOBBERS \
  , "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15"
#else
#define TM2_DW6R_CLOBBERS
#endif

/* Whether a loop over the columns (COLS 0) on records (REC) peels its first and last column (TM2_DW_PLANE_SPEC;
 * two more columns of code, the loop form without records keeps its size): a SAME layer (the output stride CHM the
 * input row ROW) of known input columns (CH), at least three */
#define TM2_DW6S_PEEL(REC, COLS, CHM, ROW, CH) ((REC) && (COLS) == 0 && (CH) && (CHM) == (ROW) && (ROW) >= 3 * (CH))
/* The input columns of a layer whose columns are unrolled or peeled and whose input rows are known (ROW / CH; else
 * 0) */
#define TM2_DW6S_INW(REC, COLS, CHM, ROW, CH) \
  (((COLS) && (CH)) || TM2_DW6S_PEEL(REC, COLS, CHM, ROW, CH) ? (ROW) / ((CH) ? (CH) : 1) : 0)

/* Defines NAME, the tm2_dw6_spec of shift E, output stride CHM, plane column bytes RL2, ROWS outputs a column
 * (6k or 6k + 1, k > 0) and COLS output columns (0: any), and its column loop NAME##_cols (a tm2_dw6_cols; the
 * constants stand for the plane column and the output strides). COLS 0: per column the groups and the last output
 * (TM2_DW6S_COLUMN), then w0, w1 back into r9, r10 where the column left w4, w5 or e there, ra on to the next
 * plane column and o by oadv to the next column's first output, in a loop (on records, a SAME layer's first and
 * last columns out of it, without their taps in the padding plane columns: TM2_DW6S_PEEL). Otherwise the COLS
 * columns of a
 * channel are unrolled too (tm2_dw6_ra: column x's plane column, x RL2 bytes on), and o moves on by the
 * immediate CHM / COLS - 6 k CHM from one column to the next: no loop, no reloads; where the input columns are known
 * too (ROW / CH, the left padding (COLS + 2 - ROW / CH) / 2), a column's taps in the padding plane columns are
 * skipped (rows a of the first column, c of the last: tm2_dw6_sa, tm2_dw6_sc; the driver takes the loop only for
 * a layer of those input columns and padding). The layer's checks
 * (tinym2net/ops/packing.py, dw3x3_plane_spec) keep every offset in range: the LDRD offsets
 * ((COLS - 1) RL2 + 2 RL2 + 12 (k - 1) + 8 <= 1020), the STRB ones (5 CHM <= 4095) and 6 CHM (and the column
 * step) ADD / SUB immediates. Aligned to 512 bytes, as tm2_dw_plane_cols6. */
#define TM2_DW_PLANE_SPEC(NAME, E, CHM, RL2, ROWS, COLS, INH, HEAD, ROW, CH, PS, G) \
  TM2_DW6_SPEC_DEFINE(NAME, E, CHM, RL2, ROWS, COLS, INH, HEAD, ROW, CH, PS, G, 0)
/* The same whose column loop takes the layer's records (REC 1: a->weights, packing.dw3x3_plane_records; a->bias and
 * a->rq unused) with the channel's words in s0 .. s9 (TM2_DW6R_SETUP) where the board has an FPU; without one the
 * generated code passes the packed weights, bias and rq (TM2_DW6_RECORDS 0) and the loop takes them */
#if defined(__ARM_FP)
#define TM2_DW6_RECORDS 1
#define TM2_DW_PLANE_SPEC_REC(NAME, E, CHM, RL2, ROWS, COLS, INH, HEAD, ROW, CH, PS, G) \
  TM2_DW6_SPEC_DEFINE(NAME, E, CHM, RL2, ROWS, COLS, INH, HEAD, ROW, CH, PS, G, 1)
#else
#define TM2_DW6_RECORDS 0
#define TM2_DW_PLANE_SPEC_REC TM2_DW_PLANE_SPEC
#endif
#define TM2_DW6_SPEC_DEFINE(NAME, E, CHM, RL2, ROWS, COLS, INH, HEAD, ROW, CH, PS, G, REC)                          \
  TM2_DW6T_DEFINE(NAME, TM2_DW6T_ATTR_##REC, (INH) ? (INH) : 1, HEAD, ROW, CH, PS, RL2, (G) == 4 ? 4 : 2)          \
  __attribute__((noinline, aligned(512))) static void NAME##_cols(const tm2_dw6_args *a, int32_t c0, int32_t n) {  \
    /* the channel loop's constants and the pointers it moves on a channel in the assembly: a call's channels, or on \
     * records with a->src, its channel groups one after the other, each transposed first (one call a layer) */     \
    const int32_t step = (REC) && a->src != NULL ? ((G) == 4 ? 4 : 2) : n;                                          \
    const int32_t rw = (REC) ? TM2_DW6R_WORDS(E) : 6; /* words a channel */                                         \
    static const int32_t zeros[4] = {0, 0, 0, 0}; /* the biases of a layer without (n <= 4) */                     \
    const int32_t *bp = (REC) ? NULL : a->bias != NULL ? a->bias + c0 : zeros; /* (records: unread) */          \
    const tm2_rq *qp = (REC) ? NULL : a->rq + c0;                                                                   \
    const int8_t *rap = (const int8_t *)a->planes;                                                                  \
    /* (records, unrolled columns: ps2 read only beyond an ADDW, ncols unread) */                                   \
    const int32_t ps2 = (REC) && (COLS) && (PS) <= 4095 ? 0 : a->ps2, ncols = (REC) && (COLS) ? 0 : a->ncols;       \
    /* (the loop's columns: without the peeled first and last) */                                                   \
    const int32_t nloop = ncols - (TM2_DW6S_PEEL(REC, COLS, CHM, ROW, CH) ? 2 : 0);                                 \
    const int32_t oadv = (REC) && (COLS) ? 0 : a->ostep - 6 * ((ROWS) / 6) * (CHM); /* (unrolled: unread) */        \
    for (int32_t g0 = c0; g0 < c0 + n; g0 += step) {                                                                \
    if ((REC) && a->src != NULL) {                                                                                  \
      NAME##_tr(a->src + g0, a->dst, a->off2, a->in_w);                                                             \
    }                                                                                                               \
    const uint32_t *wp = a->weights + rw * g0;                                                                      \
    const uint32_t *const wend = wp + rw * step;                                                                    \
    int8_t *op = a->out + g0;                                                                                       \
    int32_t cc;                                                                                                     \
    uint32_t w[4]; /* the transposed filter's words w0, w1, w4, w5 (w2, w3 stay in r11, r12) */                  \
    int32_t bs, es;                                                                                                 \
    uint64_t mh; /* m, hs: one LDRD */                                                                              \
    /* (the twelve temporaries are named in the assembly; these two take the registers left) */                    \
    register const int8_t *ra __asm__("r7");                                                                        \
    register int8_t *o __asm__("lr");                                                                               \
    {                                                                                                               \
      __asm__ volatile(                                                                                             \
          /* the groups and the last single output of a column, the channels, the left padding */               \
          ".set tm2_dw6_ng, %c[rows] / 6\n\t"                                                                     \
          ".set tm2_dw6_one, %c[rows] - 6 * tm2_dw6_ng\n\t"                                                       \
          ".set tm2_dw6_ch, 0\n\t"                                                                                \
          ".if %c[cols]\n\t" ".set tm2_dw6_ch, %c[chm] / %c[cols]\n\t" ".endif\n\t"                                \
          ".set tm2_dw6_pl, (%c[cols] + 2 - %c[inw]) / 2\n\t"                                                     \
          ".set tm2_dw6_rec, " #REC "\n\t" /* (a literal 0 or 1: the asm has no operand left for it) */          \
          ".if tm2_dw6_rec\n\t" TM2_DW6R_INIT(PS) ".endif\n"                                                            \
          "2:\n\t"                                                                                                  \
          ".if tm2_dw6_rec\n\t" TM2_DW6R_SETUP ".else\n\t" TM2_DW6S_SETUP ".endif\n\t"                             \
          ".set tm2_dw6_u, 0\n\t"                                                                                  \
          ".set tm2_dw6_mg, 0\n\t"                                                                                 \
          ".set tm2_dw6_sa, 0\n\t" ".set tm2_dw6_sc, 0\n\t" ".set tm2_dw6_sa1, 0\n\t" ".set tm2_dw6_sc1, 0\n\t"          \
          ".if %c[cols]\n\t"                                                                                       \
          ".set tm2_dw6_x, 0\n\t"                                                                                  \
          ".set tm2_dw6_d, tm2_dw6_ch - 6 * tm2_dw6_ng * %c[chm]\n\t"                                                   \
          /* columns of 6k outputs: the column step joined to the last group's (an ADDW / SUBW immediate) */      \
          ".set tm2_dw6_mg, tm2_dw6_one == 0 && 6 * %c[chm] + tm2_dw6_d <= 4095 && 6 * %c[chm] + tm2_dw6_d >= -4095\n\t" \
          ".rept %c[cols]\n\t"                                                                                     \
          ".set tm2_dw6_ra, tm2_dw6_x * %c[rl2]\n\t"                                                              \
          ".if %c[inw]\n\t" /* the padding plane columns of column x (rows a, c) and of the one before */        \
          ".set tm2_dw6_sa, tm2_dw6_x < tm2_dw6_pl\n\t"                                                             \
          ".set tm2_dw6_sc, tm2_dw6_x + 2 >= tm2_dw6_pl + %c[inw]\n\t"                                              \
          ".set tm2_dw6_sa1, tm2_dw6_x - 1 < tm2_dw6_pl\n\t"                                                        \
          ".set tm2_dw6_sc1, tm2_dw6_x + 1 >= tm2_dw6_pl + %c[inw]\n\t"                                             \
          ".endif\n\t" TM2_DW6S_COLUMN_X                                                                          \
          ".if tm2_dw6_mg == 0\n\t"                                                                                \
          ".if tm2_dw6_d < 0\n\t"                                                                                  \
          "sub %[o], %[o], #(-tm2_dw6_d)\n\t"                                                                      \
          ".else\n\t"                                                                                              \
          "add %[o], %[o], #tm2_dw6_d\n\t"                                                                         \
          ".endif\n\t"                                                                                             \
          ".endif\n\t"                                                                                             \
          ".set tm2_dw6_x, tm2_dw6_x + 1\n\t"                                                                      \
          ".endr\n\t"                                                                                              \
          ".else\n\t"                                                                                               \
          /* a SAME layer of known input columns (TM2_DW6S_PEEL): the first column, without row a, before the loop */ \
          ".set tm2_dw6_ra, 0\n\t"                                                                                 \
          ".if %c[inw]\n\t"                                                                                        \
          ".set tm2_dw6_sa, 1\n\t" TM2_DW6S_COLUMN ".set tm2_dw6_sa, 0\n\t"                                        \
          ".if %c[e] == 0 || (tm2_dw6_u & 1)\n\t" TM2_DW6S_W01 ".endif\n\t"                                      \
          "ldr r6, %[oadv]\n\t"                                                                                     \
          "add %[ra], %[ra], #%c[rl2]\n\t"                                                                          \
          "add %[o], %[o], r6\n\t"                                                                                  \
          ".set tm2_dw6_u, 0\n\t"                                                                                  \
          ".endif\n"                                                                                                 \
          "1:\n\t" TM2_DW6S_COLUMN                                                                                   \
          ".if %c[e] == 0 || (tm2_dw6_u & 1)\n\t" TM2_DW6S_W01 ".endif\n\t"                                        \
          "ldr r6, %[oadv]\n\t"                                                                                     \
          "ldr r8, %[cc]\n\t"                                                                                       \
          "add %[ra], %[ra], #%c[rl2]\n\t"                                                                          \
          "add %[o], %[o], r6\n\t"                                                                                  \
          "subs r8, r8, #1\n\t"                                                                                     \
          "str r8, %[cc]\n\t"                                                                                       \
          "bne 1b\n\t"                                                                                              \
          /* and the last column, without row c (r9, r10: w0, w1 as the loop left them) */                        \
          ".if %c[inw]\n\t"                                                                                        \
          ".set tm2_dw6_u, 0\n\t" ".set tm2_dw6_sc, 1\n\t" TM2_DW6S_COLUMN ".set tm2_dw6_sc, 0\n\t"                 \
          ".endif\n\t"                                                                                             \
          ".endif\n\t"                                                                                             \
          ".if tm2_dw6_rec\n\t"                                                                                    \
          ".if %c[cols]\n\t" TM2_DW6R_NEXT(PS) ".endif\n\t"                                                       \
          "vmov r1, r0, s14, s15\n\t"                                                                              \
          ".else\n\t"                                                                                               \
          "ldr r0, %[wp]\n\t"                                                                                       \
          "ldr r1, %[wend]\n\t"                                                                                     \
          ".endif\n\t"                                                                                              \
          "cmp r0, r1\n\t"                                                                                          \
          "bne 2b\n\t"                                                                                              \
          : [ra] "=&r"(ra), [o] "=&r"(o), [cc] "=m"(cc), [wp] "+m"(wp), [bp] "+m"(bp), [qp] "+m"(qp),               \
            [rap] "+m"(rap), [op] "+m"(op), [w0] "=m"(w[0]), [w1] "=m"(w[1]), [w4] "=m"(w[2]), [w5] "=m"(w[3]),     \
            [bs] "=m"(bs), [mh] "=m"(mh), [es] "=m"(es)                                                             \
          : [wend] "m"(wend), [ps2] "m"(ps2), [ncols] "m"(nloop), [oadv] "m"(oadv), [chm] "i"(CHM),                 \
            [rl2] "i"(RL2), [e] "i"(E), [rows] "i"(ROWS), [cols] "i"(COLS), [inw] "i"(TM2_DW6S_INW(REC, COLS, CHM, ROW, CH))  \
          : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc",                        \
            "memory" TM2_DW6R_CLOBBERS);                                                                            \
    }                                                                                                               \
    }                                                                                                               \
  }                                                                                                                 \
  static const tm2_dw6_spec NAME = {NAME##_cols, (E), (CHM), (RL2), (ROWS), (COLS),                               \
                                    !(REC) && TM2_DW6T_BUILT(INH, HEAD, PS, G) ? NAME##_tr : NULL,                \
                                    (INH), (HEAD), (ROW), (CH), (PS), (G), (REC)};
#else
#define TM2_DW6_RECORDS 0
#define TM2_DW_PLANE_SPEC(NAME, E, CHM, RL2, ROWS, COLS, INH, HEAD, ROW, CH, PS, G) \
  static const tm2_dw6_spec NAME = {NULL, (E), (CHM), (RL2), (ROWS), (COLS), NULL, (INH), (HEAD), (ROW), (CH), (PS), (G), 0};
#define TM2_DW_PLANE_SPEC_REC TM2_DW_PLANE_SPEC
#endif

#ifdef __cplusplus
}
#endif
#endif
