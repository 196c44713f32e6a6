/* tinym2net int8 PAD kernel: constant padding of a tensor of rank <= 4. Hand-written for tinym2net.
 * Same result as TFLite's reference Pad: every output element whose coordinates fall inside the
 * copied input block takes the input value, every other one the pad value (for int8 PAD: the
 * output zero point). Lower ranks are extended to 4 with leading size-1, zero-padding dims. */
#ifndef TM2_PAD_H
#define TM2_PAD_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t in_dims[4];    /* input shape, right-aligned to rank 4 */
  int32_t pad_before[4]; /* elements added before each dim */
  int32_t pad_after[4];  /* elements added after each dim */
  int32_t pad_value;     /* int8 value written into the padding */
} tm2_pad_params;

/* output dims are in_dims[i] + pad_before[i] + pad_after[i]. input and output must not overlap. */
void tm2_pad_s8(const tm2_pad_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
