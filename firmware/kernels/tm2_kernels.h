/* tinym2net kernels: one include for the generated model.c. Hand-written, heap-free, C99. */
#ifndef TM2_KERNELS_H
#define TM2_KERNELS_H
#include "tm2_fixedpoint.h"
#include "tm2_conv.h"
#include "tm2_fc.h"
#include "tm2_conv_dsp.h"
#include "tm2_dw_plane6.h"
#include "tm2_dw_s2_dsp.h"
#include "tm2_fc_dsp.h"
#include "tm2_int4.h"
#include "tm2_pool.h"
#include "tm2_pad.h"
#include "tm2_elementwise.h"
#include "tm2_concat.h"
#include "tm2_quantize.h"
#include "tm2_softmax.h"
#include "tm2_logistic.h"
#include "tm2_mean.h"
#include "tm2_inplace.h"
#endif
