/* tinym2net int8 MEAN: see tm2_mean.h for the arithmetic. Hand-written for tinym2net. */
#include "tm2_mean.h"

#include "tm2_fixedpoint.h"

void tm2_mean_s8(const tm2_mean_params *p, const int8_t *input, int8_t *output) {
  int32_t keep_ext[4], red_ext[4], stride[4];
  int32_t o0, o1, o2, o3, r0, r1, r2, r3;
  int32_t d;
  int8_t *out = output;

  stride[3] = 1;
  for (d = 2; d >= 0; --d) stride[d] = stride[d + 1] * p->dims[d + 1];
  for (d = 0; d < 4; ++d) {
    keep_ext[d] = p->reduce[d] ? 1 : p->dims[d];
    red_ext[d] = p->reduce[d] ? p->dims[d] : 1;
  }

  for (o0 = 0; o0 < keep_ext[0]; ++o0) {
    for (o1 = 0; o1 < keep_ext[1]; ++o1) {
      for (o2 = 0; o2 < keep_ext[2]; ++o2) {
        for (o3 = 0; o3 < keep_ext[3]; ++o3) {
          const int8_t *base = input + o0 * stride[0] + o1 * stride[1] + o2 * stride[2] + o3;
          uint32_t sum = 0; /* int32 sum with TFLite's wrap-around on overflow */
          int64_t centred;
          int32_t value;
          for (r0 = 0; r0 < red_ext[0]; ++r0) {
            for (r1 = 0; r1 < red_ext[1]; ++r1) {
              for (r2 = 0; r2 < red_ext[2]; ++r2) {
                const int8_t *row = base + r0 * stride[0] + r1 * stride[1] + r2 * stride[2];
                for (r3 = 0; r3 < red_ext[3]; ++r3) sum += (uint32_t)(int32_t)row[r3];
              }
            }
          }
          centred = (int64_t)(int32_t)sum - (int64_t)p->input_zero_point * p->num_elements;
          value = tm2_mbqm((int32_t)(uint32_t)(uint64_t)centred, p->multiplier, p->shift) + p->output_zero_point;
          *out++ = (int8_t)tm2_clamp_i32(value, -128, 127);
        }
      }
    }
  }
}
