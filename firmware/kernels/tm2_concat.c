/* int8 CONCATENATION (see tm2_concat.h). Hand-written for tinym2net. */
#include "tm2_concat.h"

#include <string.h>

#include "tm2_fixedpoint.h"
#include "tm2_quantize.h"

void tm2_concat_s8(const tm2_concat_params *p, const int8_t *const *inputs, int8_t *out) {
  for (int32_t k = 0; k < p->outer_size; ++k) {
    for (int32_t n = 0; n < p->num_inputs; ++n) {
      const tm2_concat_input *d = &p->inputs[n];
      const int8_t *src = inputs[n] + k * d->copy_size;
      if (!d->requantize) {
        memcpy(out, src, (size_t)d->copy_size);
      } else {
        for (int32_t j = 0; j < d->copy_size; ++j) {
          const float v = (float)src[j] * d->scale + d->bias;
          out[j] = (int8_t)tm2_clamp_i32(tm2_round_f32(v) + p->output_zero_point, -128, 127);
        }
      }
      out += d->copy_size;
    }
  }
}
