/* int8 ADD and MUL with TFLite's reference arithmetic and general broadcasting (up to 4-D).
 *
 * Broadcasting: the build step collapses the shapes and passes the output shape plus, for each
 * input, the element stride of every output dimension (0 where that input is broadcast along it).
 * The kernels walk the output in order, so an output may share storage with a same-shaped input.
 * Hand-written for tinym2net. */
#ifndef TM2_ELEMENTWISE_H
#define TM2_ELEMENTWISE_H
#include <stdint.h>

#define TM2_BCAST_DIMS 4

/* Output dims (outermost first, padded with leading 1s) and per-input element strides. */
typedef struct {
  int32_t out_shape[TM2_BCAST_DIMS];
  int32_t in1_strides[TM2_BCAST_DIMS];
  int32_t in2_strides[TM2_BCAST_DIMS];
} tm2_bcast4;

typedef struct {
  int32_t input1_offset;     /* -zero_point of input 1 */
  int32_t input2_offset;     /* -zero_point of input 2 */
  int32_t output_offset;     /* zero_point of the output */
  int32_t left_shift;        /* 20 for int8 */
  int32_t input1_multiplier; /* Q31, scale1 / (2 * max(scale1, scale2)) */
  int32_t input1_shift;      /* <= 0 */
  int32_t input2_multiplier;
  int32_t input2_shift;
  int32_t output_multiplier; /* Q31, 2 * max_scale / (2^left_shift * out_scale) */
  int32_t output_shift;      /* <= 0 */
  int32_t act_min;
  int32_t act_max;
  tm2_bcast4 bcast;
} tm2_add_params;

typedef struct {
  int32_t input1_offset;     /* -zero_point of input 1 */
  int32_t input2_offset;     /* -zero_point of input 2 */
  int32_t output_offset;     /* zero_point of the output */
  int32_t output_multiplier; /* Q31 of scale1 * scale2 / out_scale */
  int32_t output_shift;      /* > 0 is a left shift */
  int32_t act_min;
  int32_t act_max;
  tm2_bcast4 bcast;
} tm2_mul_params;

void tm2_add_s8(const tm2_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tm2_mul_s8(const tm2_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

#endif
