/* tinym2net int8 convolutions on packed weights: the fast kernels the code generator calls.
 * Hand-written for tinym2net. C99, no heap, no state. Bit-exact with the reference kernels of
 * tm2_conv.h (and so with TFLite's ConvPerChannel / DepthwiseConvPerChannel).
 *
 * Each function has two bodies chosen at compile time: with the Cortex-M DSP extension
 * (__ARM_FEATURE_DSP, e.g. Cortex-M4/M7/M33) it uses SIMD multiply-accumulates (SMLAD on pairs of
 * int16 lanes); otherwise -- or when TM2_PORTABLE is defined -- plain C on the same data layout.
 *
 * CONV_2D (tm2_conv2d_s8_packed): im2col + matrix product with int16 weights.
 *   The K = filter_h * filter_w * in_c taps of an output pixel are gathered into an int16 column
 *   (input + input_offset; 0 for taps in the padding, which is exactly TFLite's "skip the tap"), four
 *   pixels at a time, in the scratch buffer. Each column is padded with zeros to Kp = K rounded up to a
 *   multiple of 4. Within every group of four taps the order is k0, k2, k1, k3, so one SXTAB16 on a word
 *   of four input bytes yields the pair (k0, k2) and one on the word rotated by 8 the pair (k1, k3). The
 *   column buffer interleaves the four pixels per pair: int32 word [pair * 4 + pixel] holds
 *   (x[2 pair], x[2 pair + 1]) of that pixel. With in_c a multiple of 4, four pixels of one output row
 *   whose taps are all inside the input (pointwise layers: four contiguous pixels) are widened together,
 *   one run of filter_w * in_c bytes per filter row and pixel; other pixels tap by tap. With in_c not a
 *   multiple of 4 and filter rows of run = filter_w * in_c = 4 g or 4 g + 1 bytes (3x3 filters of three
 *   channels, kws' 10x4 filters of one channel), each filter row is widened straight from the input, g
 *   words, and with 4 g + 1 the last bytes of all rows follow after all rows' groups, two rows per
 *   position pair (the row layout; the weights are packed to match, tinym2net/ops/packing.py
 *   conv_tap_positions); filter rows that reach past the input are gathered as bytes first. Otherwise the
 *   taps of each pixel are first gathered as bytes (padding taps get the input zero point, which widens
 *   to 0), then widened. A short last block moves back to end at the layer's last pixel.
 *   Packed constants (one int32 stream built by tinym2net/ops/packing.py, pack_conv_gemm): per output
 *   channel pair (c, c+1; a missing last channel has zero weights), TM2_CONV_PACKED_PAIR_WORDS(Kp) words:
 *     2 * bias[c], 2 * bias[c+1];
 *     per position pair j: the int16 pair (2 w[c][2j], 2 w[c][2j+1]), then the same for channel c+1;
 *     the requantisation record (3 words) of channel c, then of channel c+1.
 *   Weights and bias are doubled, so the sums are 2 * acc (the build checks |2 acc| < 2^31): that is what
 *   the one-instruction high multiply of TM2_RQ_HIGHMUL (tm2_requant.h) needs. Records: TM2_RQ_HIGHMUL
 *   (m, hz, e), TM2_RQ_HIGHMUL_E (m, hz', E; channel c's weights and bias scaled by 2^(E - e[c]) more, E one
 *   immediate shift for the layer), or TM2_RQ_DOUBLE (m, 0, TFLite shift) applied to acc = sum / 2.
 *   Inner block: 4 pixels x 2 channels = 8 accumulators, 16 MACs per position pair (two weight words,
 *   four column words, eight SMLAD; no unpacking in the loop). With TM2_RQ_HIGHMUL or TM2_RQ_HIGHMUL_E and the
 *   full int8 range, all channel pairs of a block run in one assembly loop (bias, products, requantisation,
 *   stores); TM2_RQ_HIGHMUL_E takes two instructions per output (SMMLA, SSAT with the shift E).
 *
 * DEPTHWISE_CONV_2D 3x3 (tm2_depthwise3x3_s8_packed): depth multiplier 1, dilation 1, stride 1 or 2.
 *   Channels go in quads (four at a time). For a quad, input rows are transposed into channel-major int16
 *   rows (input + input_offset, zero columns for the left/right padding), a ring of three rows in the
 *   scratch buffer, so that the taps (x, x+1) of one channel are one int16 pair; each input row is
 *   transposed once per quad, and the scratch holds one quad only (32 * row_len bytes for four or more
 *   channels, whatever their count, so that the kernel also runs in place through row bands, tm2_inplace.h). Filter rows
 *   above or below the input read a fourth slot of zeros (contributing 0, as TFLite skips those taps).
 *   Weights per channel: the pairs (w0, w1), (w1, w2) of each filter row as int16, six words. Four
 *   outputs of a row share three words per filter row: out0 = SMLAD(t01, w01) + SMLABT(t23, w12),
 *   out1 = SMLATB(t01, w01) + SMLAD(t23, w12), ...
 *
 * Requantisation: tm2_requant.h (one tm2_rq per output channel, mode in the params). The 3x3 depthwise
 * kernel also takes TM2_RQ_HIGHMUL entries (m, hz, -, e) applied to its undoubled sums (tm2_rq_highmul):
 * five instructions per output with the DSP extension, four for an output offset of -128. */
#ifndef TM2_CONV_DSP_H
#define TM2_CONV_DSP_H
#include <stdint.h>

#include "tm2_requant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t filter_h, filter_w;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_offset;  /* -input zero point */
  int32_t output_offset; /* output zero point */
  int32_t act_min, act_max;
  int32_t depth_padded; /* Kp: filter_h * filter_w * in_c rounded up to a multiple of 4 */
  int32_t rq_mode;      /* TM2_RQ_HIGHMUL, TM2_RQ_HIGHMUL_E or TM2_RQ_DOUBLE (records of the packed stream) */
  int32_t path;         /* TM2_CONV_PATH_*: the loop that runs the layer, chosen at build time */
} tm2_conv_packed_params;

/* Loops of tm2_conv2d_s8_packed (the path field; tinym2net/ops/packing.py conv_packed_path decides). All need
 * TM2_RQ_HIGHMUL or TM2_RQ_HIGHMUL_E records, the full int8 range (act_min -128, act_max 127) and an even out_c;
 * without the DSP extension every layer takes the general loop.
 *   TM2_CONV_PATH_POINTWISE: 1x1 filters, strides 1, no padding, in_w == out_w, in_c == Kp of 8, 16, 32, 64 or
 *     128 (calls of fewer than four pixels run pixel by pixel);
 *   TM2_CONV_PATH_FIRST3X3: 3x3 filters of three channels (Kp 28), dilation 1, out_w a multiple of 4;
 *   TM2_CONV_PATH_ROWS4: 10x4 filters of one channel (Kp 40, kws' first layer), dilation 1 (calls of fewer than four
 *     pixels, out_c other than 64 and TM2_RQ_HIGHMUL records with output offsets other than -128 take the general
 *     loop). */
#define TM2_CONV_PATH_GENERAL 0
#define TM2_CONV_PATH_POINTWISE 1
#define TM2_CONV_PATH_FIRST3X3 2
#define TM2_CONV_PATH_ROWS4 3

/* int32 words of one channel pair in the packed stream: two biases, Kp weight words, two 3-word records. */
#define TM2_CONV_PACKED_PAIR_WORDS(depth_padded) ((depth_padded) + 8)

/* Scratch bytes tm2_conv2d_s8_packed needs: four int16 columns of Kp taps and, when in_c is not a multiple
 * of 4, the Kp tap bytes of each of the four pixels (gathered before widening). */
#define TM2_CONV_PACKED_SCRATCH(depth_padded, in_c) (((in_c) & 3) ? 12 * (depth_padded) : 8 * (depth_padded))

/* CONV_2D, int8, per-channel. packed: ((out_c + 1) / 2) * TM2_CONV_PACKED_PAIR_WORDS(Kp) int32 words as
 * above (bias included); scratch: TM2_CONV_PACKED_SCRATCH bytes, 4-byte aligned. */
void tm2_conv2d_s8_packed(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                          void *scratch, int8_t *output);
/* The same, one loop each (the generated code calls the entry of its layer's path, so that only the loops a
 * model uses are linked): any layer; TM2_CONV_PATH_FIRST3X3 layers; TM2_CONV_PATH_ROWS4 layers; TM2_CONV_PATH_POINTWISE
 * layers of Kp 8 .. 128. */
void tm2_conv2d_s8_packed_general(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                                  void *scratch, int8_t *output);
/* The general loop without the loops of output offset -128 (any layer; the generator names it for the others). */
void tm2_conv2d_s8_packed_general_signed(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                                         void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_first3x3(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                                   void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_rows4(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                                void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_pw8(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                              void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_pw16(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                               void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_pw32(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                               void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_pw64(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                               void *scratch, int8_t *output);
void tm2_conv2d_s8_packed_pw128(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed,
                                void *scratch, int8_t *output);

/* The shifts E of TM2_RQ_HIGHMUL_E layers that have entry points, X(E) each (tinym2net/ops/packing.py RQ_SHIFTS). */
#define TM2_CONV_RQ_SHIFTS(X) X(10) X(11) X(12) X(13) X(14)
/* The same loops for TM2_RQ_HIGHMUL_E records of shift E, E an immediate in the loop: one entry per loop and E,
 * tm2_conv2d_s8_packed_general_e<E>, _first3x3_e<E>, _rows4_e<E>, _pw<Kp>_e<E> (E of TM2_CONV_RQ_SHIFTS); and
 * _first3x3s2o8_e<E> (TM2_CONV_PATH_FIRST3X3 layers of stride_w 2 and out_c 8), which only those layers' models link;
 * _pw128x3_e<E> and _pw256x3_e<E>, pointwise Kp 128 and 256 with out_c 256 in blocks of three pixels, for pixel
 * counts a multiple of three and not of four; _pw64o128_e<E>, pointwise Kp 64 with out_c 128 (its own loop, which
 * only those layers' models link); _first3x3o8_e<E> and _first3x3o16_e<E>, the other first layers of out_c 8 and 16
 * (that out_c's loop alone) (tinym2net/ops/packing.py conv_packed_entry). */
#define TM2_CONV_PACKED_DECLARE(NAME) \
  void NAME(const tm2_conv_packed_params *p, const int8_t *input, const int32_t *packed, void *scratch, int8_t *output);
/* The pointwise shapes (Kp, out_c) with a block loop of their own for TM2_RQ_HIGHMUL_E records, X(KP, OC, E) each:
 * their entries _pw<Kp>o<out_c>_e<E> have out_c a constant and link that loop alone (a layer of another out_c traps;
 * tinym2net/ops/packing.py PW_OWN_LOOPS), so that a model links none of the other shapes' loops of its Kp. */
#define TM2_PW_OWN_LOOPS(X, E) X(8, 16, E) X(16, 32, E) X(32, 32, E) X(32, 64, E) X(64, 64, E) X(64, 128, E) X(128, 128, E)
#define TM2_CONV_PACKED_DECLARE_PWO(KP, OC, E) TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw##KP##o##OC##_e##E)
#define TM2_CONV_PACKED_DECLARE_E(E)                    \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_general_e##E)  \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_first3x3_e##E) \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_first3x3s2o8_e##E) \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_first3x3o8_e##E) \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_first3x3o16_e##E) \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_rows4_e##E)     \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw8_e##E)      \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw16_e##E)     \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw32_e##E)     \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw64_e##E)     \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw128_e##E)    \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw128x3_e##E)  \
  TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw256x3_e##E)  \
  TM2_PW_OWN_LOOPS(TM2_CONV_PACKED_DECLARE_PWO, E)
TM2_CONV_RQ_SHIFTS(TM2_CONV_PACKED_DECLARE_E)
/* Kp 128 into out_c 128, TM2_RQ_HIGHMUL records of output offset -128 (their own loop; any other layer traps). */
TM2_CONV_PACKED_DECLARE(tm2_conv2d_s8_packed_pw128o128)
#undef TM2_CONV_PACKED_DECLARE_PWO
#undef TM2_CONV_PACKED_DECLARE_E
#undef TM2_CONV_PACKED_DECLARE

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t stride; /* 1 or 2, the same along both axes */
  int32_t pad_h, pad_w;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t row_len; /* int16 elements of one transposed row (even; see tm2_dw3x3_row_len in packing.py) */
  int32_t rq_mode; /* TM2_RQ_DOUBLE or TM2_RQ_DOUBLE_FAST */
  /* tm2_depthwise3x3_s8_planes only (0 elsewhere): int16 elements of one plane column (even; see
   * dw3x3_planes_geometry in packing.py), columns per plane, channels per group of planes (1 .. 4) */
  int32_t plane_len, plane_cols, plane_ch;
} tm2_dw3x3_packed_params;

/* Scratch bytes tm2_depthwise3x3_s8_packed needs: four slots (a ring of three transposed input rows and
 * one of zeros, read by filter rows outside the input) of min(4, channels) channel rows each (a quad). */
#define TM2_DW3X3_SCRATCH(channels, row_len) (2 * 4 * ((channels) < 4 ? (channels) : 4) * (row_len))


/* DEPTHWISE_CONV_2D 3x3, depth multiplier 1, int8, per-channel. weights: channels * 6 int32 words
 * (the int16 pairs above); bias: channels int32 or NULL; rq: channels entries. */
void tm2_depthwise3x3_s8_packed(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output);

/* Scratch bytes tm2_depthwise3x3_s8_planes needs: plane_ch whole channel planes of int16. */
#define TM2_DW3X3_PLANES_SCRATCH(plane_ch, plane_cols, plane_len) (2 * (plane_ch) * (plane_cols) * (plane_len))

/* The same layer on whole channel planes: channels go plane_ch at a time; their planes are transposed into
 * the scratch column by column (plane column x holds input column x - pad_w, element y input row y - pad_h,
 * + input_offset; the rest zero), then every output column runs as one long row of the packed kernel's row
 * code (weights transposed on the fly). Narrow, tall maps (kws: 25 x 5) get 25-long rows instead of 5-long
 * ones, and every input element is transposed once. A group's output bytes are written only after its
 * input bytes were read, so with stride 1 and equal input and output shapes the output may overwrite the
 * input (input == output: in place, no ring). Same sums and requantisation as the packed kernel. */
void tm2_depthwise3x3_s8_planes(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output);

/* The same layer on 4 x 4 maps in and out, stride 1, padding 1, TM2_RQ_HIGHMUL of output offset -128 and the full
 * int8 range, without scratch: one channel at a time straight from the input, its 16 inputs read first (so the
 * output may be the input, in place, or apart from it), an input row as two int16 pair words, a filter row's twelve
 * multiply-accumulates on a row in six SMLAD / SMLAxy (the padding columns drop out of the pairs, the padding rows
 * are skipped). Defined only where the core has the DSP extension (TM2_CONV_USE_DSP): the generated code calls it
 * there, so that a model whose stride-1 layers all take it links none of the planes kernel's loops, and calls
 * tm2_depthwise3x3_s8_planes or _packed elsewhere. */
void tm2_depthwise3x3_s8_4x4(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                               const int32_t *bias, const tm2_rq *rq, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
