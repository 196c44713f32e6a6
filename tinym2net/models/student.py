"""TinyM2Net students: one tiny convolutional branch per modality, fused by concatenation, small dense head.

Branch layout (per modality, input ``(H, W, C)``)::

    stem:     Conv2D(width, k, stride s0)                         -> "<mod>_stage0"
    block i:  DepthwiseConv2D(k, stride si) -> ReLU
              Conv2D(width * growth**i, 1x1)                      -> "<mod>_stage<i>"   (i = 1..blocks)
    pool:     global max (one MAX_POOL_2D window + RESHAPE), global average (MEAN), both, or a 1x1
              reduction + Flatten

The branch outputs are concatenated, then ``[Dense(head_units, relu)] -> Dense(classes) ("logits") ->
Softmax ("probs")``. Every convolution is followed by a ReLU that the TFLite converter fuses into it.

Strides come from :func:`stage_strides`. The default student keeps the full input resolution in its stem
(``stem_limit``) and halves axes longer than 4 in every block: small sensor images lose too much detail in
a strided stem (measured on the posture demo: about +4 points for the same weights), and convolutions
cost compute, not weight bytes. The teacher uses the strided plan; attention transfer resizes the
teacher's maps to the student's stage sizes.

Default layout: two blocks (width -> 2 width -> 4 width channels), no hidden head layer, global average and
global max pooling side by side (on posture, seed 0, 30 epochs of KD+AT: 94.2 % int8 against 92.0 % with max
pooling alone). The width is sized to a weight budget by :func:`size_student` (int8 weights + int32 biases,
6 KB by default): width 12 on posture (5880 bytes) and 11 on avdigits (5892 bytes).

Training may use BatchNorm after every convolution (``StudentConfig.batchnorm``); :func:`fold_batchnorm`
returns the export model: the same graph without BatchNorm, each BN folded into the convolution before it,
so the int8 compiler only sees Conv2D / DepthwiseConv2D / Dense / MAX_POOL_2D / MEAN / RESHAPE /
Concatenate / Softmax. A single-modality student is the same builder called with one modality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import keras
import numpy as np
from keras import layers

from tinym2net.models import DEFAULT_WEIGHT_BUDGET

LOGITS_LAYER = "logits"
PROBS_LAYER = "probs"
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9  # moving statistics settle within the short training runs used here


@dataclass(frozen=True)
class StudentConfig:
    """Size knobs of a student. The defaults fit both demos in <= 6 KB of int8 weights + int32 biases."""

    width: int = 12  # channels of each branch's stem convolution
    kernel_size: int = 3  # kernel of the stem and of every depthwise convolution
    blocks: int = 2  # depthwise-separable blocks after the stem
    growth: float = 2.0  # channel multiplier per block (block i has round(width * growth**i) channels)
    head_units: int = 0  # hidden units of the fused head (0: logits straight from the concatenation)
    pool: str = "avgmax"  # branch output: "gap" (global average), "max" (global max), "avgmax" (both) or
    # "flatten" (keeps the layout)
    flatten_channels: int = 4  # "flatten": a 1x1 convolution to this many channels before flattening
    batchnorm: bool = True  # BatchNorm while training; folded away by fold_batchnorm for export
    stem_limit: int = 64  # the stem halves input axes longer than this (see stage_strides)

    def block_channels(self, i: int) -> int:
        return max(1, int(round(self.width * self.growth**i)))


def stage_strides(shape: tuple[int, ...], stages: int, *, stem_limit: int = 8) -> list[tuple[int, int]]:
    """Downsampling plan of a branch: one ``(stride_h, stride_w)`` per stage.

    Stage 0 halves an axis longer than ``stem_limit``, later stages halve an axis longer than 4. With
    ``stem_limit=8`` (the teacher's plan) 8x8 keeps its full resolution in the stem, 24x32 goes
    12x16 -> 6x8 -> 3x4 and 49x10 goes 25x5 -> 13x3 -> 7x3; with a large ``stem_limit`` the stem never
    downsamples (24x32 -> 24x32 -> 12x16 -> 6x8).
    Sizes follow 'same' padding: ``ceil(n / stride)``.
    """
    h, w = int(shape[0]), int(shape[1])
    plan: list[tuple[int, int]] = []
    for stage in range(stages):
        limit = stem_limit if stage == 0 else 4
        sh = 2 if h > limit else 1
        sw = 2 if w > limit else 1
        plan.append((sh, sw))
        h, w = -(-h // sh), -(-w // sw)
    return plan


def _conv_bn_relu(x, conv: layers.Layer, *, batchnorm: bool, relu_name: str):
    x = conv(x)
    if batchnorm:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{conv.name}_bn")(x)
    return layers.ReLU(name=relu_name)(x)


def _branch(inp, modality: str, cfg: StudentConfig, batchnorm: bool):
    strides = stage_strides(tuple(inp.shape[1:]), cfg.blocks + 1, stem_limit=cfg.stem_limit)
    k = cfg.kernel_size
    stem = layers.Conv2D(
        cfg.width, k, strides=strides[0], padding="same", use_bias=not batchnorm, name=f"{modality}_stem"
    )
    x = _conv_bn_relu(inp, stem, batchnorm=batchnorm, relu_name=f"{modality}_stage0")
    for i in range(1, cfg.blocks + 1):
        dw = layers.DepthwiseConv2D(
            k, strides=strides[i], padding="same", use_bias=not batchnorm, name=f"{modality}_b{i}_dw"
        )
        x = _conv_bn_relu(x, dw, batchnorm=batchnorm, relu_name=f"{modality}_b{i}_dw_relu")
        pw = layers.Conv2D(cfg.block_channels(i), 1, use_bias=not batchnorm, name=f"{modality}_b{i}_pw")
        x = _conv_bn_relu(x, pw, batchnorm=batchnorm, relu_name=f"{modality}_stage{i}")
    if cfg.pool in ("gap", "max", "avgmax"):
        pooled = []
        if cfg.pool in ("gap", "avgmax"):
            pooled.append(layers.GlobalAveragePooling2D(name=f"{modality}_gap")(x))
        if cfg.pool in ("max", "avgmax"):
            # global max pooling as one MAX_POOL_2D window over the whole map (TFLite has no MAX reducer)
            m = layers.MaxPooling2D(pool_size=tuple(x.shape[1:3]), name=f"{modality}_gmp")(x)
            pooled.append(layers.Flatten(name=f"{modality}_gmp_flat")(m))
        return pooled[0] if len(pooled) == 1 else layers.Concatenate(name=f"{modality}_pooled")(pooled)
    if cfg.pool != "flatten":
        raise ValueError(f"StudentConfig.pool must be 'gap', 'max', 'avgmax' or 'flatten', not {cfg.pool!r}")
    red = layers.Conv2D(cfg.flatten_channels, 1, use_bias=not batchnorm, name=f"{modality}_reduce")
    x = _conv_bn_relu(x, red, batchnorm=batchnorm, relu_name=f"{modality}_reduce_relu")
    return layers.Flatten(name=f"{modality}_flatten")(x)


def build_student(
    modalities: Mapping[str, tuple[int, ...]],
    num_classes: int,
    config: StudentConfig = StudentConfig(),
    *,
    batchnorm: bool | None = None,
    name: str = "student",
) -> keras.Model:
    """A TinyM2Net student over ``modalities`` (name -> per-sample shape); one modality gives the
    single-modality variant. Keras Input names are the modality names; the output is softmax
    probabilities. ``batchnorm`` overrides ``config.batchnorm`` (export models are built with False)."""
    bn = config.batchnorm if batchnorm is None else batchnorm
    inputs = [keras.Input(tuple(shape), name=mod) for mod, shape in modalities.items()]
    feats = [_branch(inp, mod, config, bn) for inp, mod in zip(inputs, modalities, strict=True)]
    x = feats[0] if len(feats) == 1 else layers.Concatenate(name="fusion")(feats)
    if config.head_units > 0:
        x = layers.Dense(config.head_units, activation="relu", name="head")(x)
    x = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    out = layers.Softmax(name=PROBS_LAYER)(x)
    return keras.Model(inputs, out, name=name)


def stage_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers whose outputs are attention-transfer stages ("<mod>_stage<i>"), in model order."""
    return [layer.name for layer in model.layers if "_stage" in layer.name]


def feature_model(model: keras.Model, stage_names: list[str] | None = None) -> keras.Model:
    """The same weights viewed as ``inputs -> [logits, *stage feature maps]`` (for distillation)."""
    names = stage_layer_names(model) if stage_names is None else stage_names
    outs = [model.get_layer(LOGITS_LAYER).output] + [model.get_layer(n).output for n in names]
    return keras.Model(model.inputs, outs, name=f"{model.name}_features")


def fold_batchnorm(model: keras.Model, modalities: Mapping[str, tuple[int, ...]], num_classes: int,
                   config: StudentConfig) -> keras.Model:
    """Export model: ``model`` rebuilt without BatchNorm, every BN folded into the convolution before it.

    With ``s = gamma / sqrt(var + eps)`` per output channel, ``BN(conv(x) + b) = conv'(x) + b'`` where the
    kernel's output-channel slice is multiplied by ``s`` and ``b' = beta + s * (b - mean)``. For a depthwise
    kernel ``(kh, kw, cin, mult)`` output channel ``c * mult + m`` is ``[..., c, m]``. A model trained
    without BatchNorm is copied unchanged.
    """
    plain = build_student(modalities, num_classes, config, batchnorm=False, name=model.name)
    names = {layer.name for layer in model.layers}
    for layer in plain.layers:
        if not layer.weights:
            continue
        src = model.get_layer(layer.name)
        bn_name = f"{layer.name}_bn"
        if bn_name not in names:
            layer.set_weights(src.get_weights())
            continue
        kernel = np.asarray(src.get_weights()[0], dtype=np.float64)
        bias = np.asarray(src.get_weights()[1], dtype=np.float64) if len(src.get_weights()) > 1 else 0.0
        bn = model.get_layer(bn_name)
        gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in bn.get_weights())
        scale = gamma / np.sqrt(var + bn.epsilon)
        if isinstance(layer, layers.DepthwiseConv2D):
            kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
        else:
            kernel = kernel * scale
        new_bias = beta + scale * (bias - mean)
        layer.set_weights([kernel.astype(np.float32), new_bias.astype(np.float32)])
    return plain


def weight_bytes(model: keras.Model) -> int:
    """Bytes of weights at int8: one byte per kernel element plus four per bias (int32), summed over the
    Conv2D / DepthwiseConv2D / Dense layers. BatchNorm parameters are not counted: fold them first."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            for w in layer.weights:
                n = int(np.prod(w.shape))
                total += n if len(w.shape) > 1 else 4 * n
    return total



def size_student(
    modalities: Mapping[str, tuple[int, ...]],
    num_classes: int,
    budget_bytes: int = DEFAULT_WEIGHT_BUDGET,
    base: StudentConfig = StudentConfig(),
    *,
    max_width: int = 64,
) -> StudentConfig:
    """``base`` with the largest width (1..``max_width``) whose export model fits ``budget_bytes`` of int8
    weights + int32 biases (:func:`weight_bytes`; the int8 model stores exactly that, BatchNorm folded).

    Weight bytes grow with the width, so this is a binary search over widths, each probe one model build.
    Raises ValueError when even width 1 does not fit (the message gives the bytes of width 1).
    """

    def cost(width: int) -> int:
        model = build_student(modalities, num_classes, replace(base, width=width), batchnorm=False)
        return weight_bytes(model)

    smallest = cost(1)
    if smallest > budget_bytes:
        raise ValueError(
            f"the smallest student (width 1) needs {smallest} weight bytes, over the budget of {budget_bytes} "
            "bytes: raise the weight budget (--weight-budget)"
        )
    lo, hi = 1, max_width  # cost(lo) fits; find the largest width that fits
    if cost(hi) <= budget_bytes:
        return replace(base, width=hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cost(mid) <= budget_bytes else (lo, mid)
    return replace(base, width=lo)
