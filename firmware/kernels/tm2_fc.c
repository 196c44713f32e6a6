/* tinym2net int8 fully-connected kernel: see tm2_fc.h for the arithmetic. Hand-written, C99, no heap. */
#include "tm2_fc.h"

#include <stddef.h>

#include "tm2_fixedpoint.h"

void tm2_fully_connected_s8(const tm2_fc_params *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = input + (size_t)b * p->accum_depth;
    int8_t *out = output + (size_t)b * p->out_depth;
    for (int32_t o = 0; o < p->out_depth; ++o) {
      const int8_t *w = filter + (size_t)o * p->accum_depth;
      int32_t acc = 0;
      for (int32_t d = 0; d < p->accum_depth; ++d) {
        acc += (int32_t)w[d] * ((int32_t)x[d] + p->input_offset);
      }
      if (bias != NULL) acc += bias[o];
      const int32_t k = p->per_channel ? o : 0;
      const int32_t scaled = p->single_rounding ? tm2_mbqm_single(acc, mult[k], shift[k]) : tm2_mbqm(acc, mult[k], shift[k]);
      const int32_t v = scaled + p->output_offset;
      out[o] = (int8_t)tm2_clamp_i32(v, p->act_min, p->act_max);
    }
  }
}
