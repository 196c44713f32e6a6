/* tinym2net int8 FULLY_CONNECTED on packed weights: the fast kernel the code generator calls.
 * Hand-written for tinym2net. C99, no heap, no state. Bit-exact with tm2_fully_connected_s8
 * (tm2_fc.h), i.e. with TFLite's FullyConnected / FullyConnectedPerChannel.
 *
 * With the Cortex-M DSP extension (__ARM_FEATURE_DSP) and without TM2_PORTABLE the inner loop uses
 * SMLAD on int16 pairs; otherwise plain C on the same layout.
 *
 * Input: each batch row is widened once into the scratch buffer as int16 (input + input_offset),
 * padded with zeros to Kp = accum_depth rounded up to a multiple of 8, in the tap order of
 * tm2_conv_dsp.h (within each group of four: d0, d2, d1, d3), so int32 word j holds the pair of
 * positions (2j, 2j+1).
 * Weights (built by tinym2net/ops/packing.py): output rows in groups of four (missing rows of the
 * last group have zero weights); per group, for each position pair j, two words: rows (r, r+1) and
 * rows (r+2, r+3), each (w[r][a], w[r+1][a], w[r][b], w[r+1][b]) for the positions a = 2j, b = 2j+1.
 * SXTB16 of a word / of it rotated by 8 gives the int16 pair of its first / second row.
 * Requantisation: tm2_requant.h, one tm2_rq per row (per_channel) or one for all. */
#ifndef TM2_FC_DSP_H
#define TM2_FC_DSP_H
#include <stdint.h>

#include "tm2_requant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches;
  int32_t accum_depth;
  int32_t out_depth;
  int32_t depth_padded; /* Kp: accum_depth rounded up to a multiple of 8 */
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t per_channel; /* 1: rq has out_depth entries; 0: one entry */
  int32_t rq_mode;     /* TM2_RQ_* */
} tm2_fc_packed_params;

/* Scratch bytes tm2_fully_connected_s8_packed needs: one widened input row. */
#define TM2_FC_PACKED_SCRATCH(depth_padded) (2 * (depth_padded))

/* input [batches][accum_depth], weights packed as above ((out_depth + 3) / 4 * Kp * 4 bytes), bias
 * [out_depth] or NULL, output [batches][out_depth]; scratch 4-byte aligned. */
void tm2_fully_connected_s8_packed(const tm2_fc_packed_params *p, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, const tm2_rq *rq, void *scratch, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
