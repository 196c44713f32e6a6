/* int8 CONCATENATION along any axis.
 *
 * The tensors are viewed as [outer, axis * inner]: for each of the `outer_size` slices the kernel
 * appends `copy_size` elements of every input in turn. An input whose scale and zero point equal the
 * output's is copied; any other is rescaled with the float arithmetic of TFLite's reference
 * ConcatenationWithScaling (TFLite itself only runs that for uint8; its int8 kernels refuse mixed
 * scales, and its converter inserts a QUANTIZE instead):
 *   q_out = clamp(round_half_away((float)q_in * scale + bias) + output_zero_point)
 * with scale = in_scale * (1.f / out_scale) and bias = -(float)in_zero_point * scale, both float32.
 * Hand-written for tinym2net. */
#ifndef TM2_CONCAT_H
#define TM2_CONCAT_H
#include <stdint.h>

typedef struct {
  int32_t copy_size;  /* elements per outer slice: dim(axis) * product of the dims after axis */
  int32_t requantize; /* 0: plain copy; 1: rescale with scale / bias */
  float scale;
  float bias;
} tm2_concat_input;

typedef struct {
  int32_t num_inputs;
  int32_t outer_size; /* product of the output dims before axis */
  int32_t output_zero_point;
  const tm2_concat_input *inputs; /* num_inputs entries */
} tm2_concat_params;

/* inputs: num_inputs pointers in operator order. The output must not overlap any input. */
void tm2_concat_s8(const tm2_concat_params *p, const int8_t *const *inputs, int8_t *out);

#endif
