"""The float teacher: a wider, deeper multi-branch CNN that the students are distilled from.

One branch per modality, each a stack of stages; stage ``i`` is ``convs_per_stage`` 3x3 convolutions
(the first one strided by :func:`~tinym2net.models.student.stage_strides` with the strided plan, which
halves axes longer than 8 in the stem) with BatchNorm and ReLU; the last ReLU of a stage is the named
feature map ``"<mod>_stage<i>"`` used by attention transfer (the student's stage of the same name may be
larger; its teacher map is resized). Branches end in global average pooling, are concatenated and go
through an MLP head with dropout; the last Dense layer is ``"logits"``, followed by a Softmax ``"probs"``.

The teacher is never exported to the board, so it may use BatchNorm and Dropout freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import keras
from keras import layers

from tinym2net.models.student import BN_EPSILON, BN_MOMENTUM, LOGITS_LAYER, PROBS_LAYER, stage_strides


@dataclass(frozen=True)
class TeacherConfig:
    widths: tuple[int, ...] = (24, 48, 96)  # channels per stage; len = number of stages
    convs_per_stage: int = 2
    head_units: int = 128
    dropout: float = 0.3


def build_teacher(
    modalities: Mapping[str, tuple[int, ...]],
    num_classes: int,
    config: TeacherConfig = TeacherConfig(),
    *,
    name: str = "teacher",
) -> keras.Model:
    """The float teacher over ``modalities`` (name -> per-sample shape); outputs softmax probabilities."""
    inputs = [keras.Input(tuple(shape), name=mod) for mod, shape in modalities.items()]
    feats = []
    for inp, mod in zip(inputs, modalities, strict=True):
        strides = stage_strides(tuple(inp.shape[1:]), len(config.widths))
        x = inp
        for stage, (ch, stride) in enumerate(zip(config.widths, strides, strict=True)):
            for j in range(config.convs_per_stage):
                last = j == config.convs_per_stage - 1
                x = layers.Conv2D(
                    ch, 3, strides=stride if j == 0 else 1, padding="same", use_bias=False,
                    name=f"{mod}_t{stage}_conv{j}",
                )(x)
                x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{mod}_t{stage}_bn{j}")(x)
                x = layers.ReLU(name=f"{mod}_stage{stage}" if last else f"{mod}_t{stage}_relu{j}")(x)
        feats.append(layers.GlobalAveragePooling2D(name=f"{mod}_gap")(x))
    x = feats[0] if len(feats) == 1 else layers.Concatenate(name="fusion")(feats)
    x = layers.Dropout(config.dropout, name="fusion_dropout")(x)
    x = layers.Dense(config.head_units, activation="relu", name="head")(x)
    x = layers.Dropout(config.dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    out = layers.Softmax(name=PROBS_LAYER)(x)
    return keras.Model(inputs, out, name=name)
