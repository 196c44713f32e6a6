/* tinym2net int8 PAD kernel: see tm2_pad.h. Hand-written, C99, no heap.
 * The output is written in order, one innermost row at a time: a row whose three outer
 * coordinates lie in the padding is all pad value; any other row is
 * [pad_before[3] pad values][one input row][pad_after[3] pad values]. */
#include "tm2_pad.h"

#include <stddef.h>
#include <string.h>

static inline int tm2_pad_inside(int32_t o, int32_t before, int32_t in_dim) {
  return o >= before && o < before + in_dim;
}

void tm2_pad_s8(const tm2_pad_params *p, const int8_t *input, int8_t *output) {
  int32_t out_dims[4];
  for (int i = 0; i < 4; ++i) out_dims[i] = p->in_dims[i] + p->pad_before[i] + p->pad_after[i];
  const int8_t pad = (int8_t)p->pad_value;
  const size_t row_in = (size_t)p->in_dims[3];
  const size_t row_out = (size_t)out_dims[3];
  const int8_t *in = input;
  int8_t *out = output;
  for (int32_t o0 = 0; o0 < out_dims[0]; ++o0) {
    const int in0 = tm2_pad_inside(o0, p->pad_before[0], p->in_dims[0]);
    for (int32_t o1 = 0; o1 < out_dims[1]; ++o1) {
      const int in1 = in0 && tm2_pad_inside(o1, p->pad_before[1], p->in_dims[1]);
      for (int32_t o2 = 0; o2 < out_dims[2]; ++o2) {
        const int in2 = in1 && tm2_pad_inside(o2, p->pad_before[2], p->in_dims[2]);
        if (!in2) {
          memset(out, (unsigned char)pad, row_out);
        } else {
          memset(out, (unsigned char)pad, (size_t)p->pad_before[3]);
          memcpy(out + p->pad_before[3], in, row_in);
          memset(out + p->pad_before[3] + row_in, (unsigned char)pad, (size_t)p->pad_after[3]);
          in += row_in;
        }
        out += row_out;
      }
    }
  }
}
