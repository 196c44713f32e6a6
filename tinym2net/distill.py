"""Knowledge distillation (Hinton) plus attention transfer (Zagoruyko & Komodakis) for the students.

Loss of one batch, each term switchable through :class:`DistillConfig`::

    L = w_ce * CE(y, s)                                       w_ce = 1 - alpha with KD, 1 without
      + alpha * T^2 * KL(softmax(t / T) || softmax(s / T))    (KD on)
      + beta / 2 * sum_pairs mean_batch || Q_s - Q_t ||_2     (AT on)

``s``/``t`` are student/teacher logits. For a feature map ``A`` (N, H, W, C) the attention map is
``Q = vec(mean_c |A|^2) / ||vec(mean_c |A|^2)||_2`` (a unit vector of H*W entries per sample); the pairs
are the stages with the same name ("<mod>_stage<i>") in teacher and student. When a pair's spatial sizes
differ, the teacher's map is resized (area averaging when shrinking, bilinear when growing) to the
student's size before normalisation. The T^2 factor keeps the soft-target gradients at the scale of the
hard-label ones (Hinton et al. 2015).

The teacher is frozen and runs in inference mode, and the inputs are not augmented, so its logits and
attention maps for each training sample never change: :func:`teacher_targets` computes them once and the
training loop reads them with the batch. This gives the same gradients as calling the teacher in every
step, at a fraction of the cost on a 2-core CPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tinym2net.models.student import feature_model, stage_layer_names

_NORM_EPS = 1e-12


@dataclass(frozen=True)
class DistillConfig:
    kd: bool = False  # Hinton soft-target term
    at: bool = False  # attention-transfer term
    temperature: float = 4.0
    alpha: float = 0.9  # weight of the KD term; the hard-label term gets 1 - alpha (tuned: 0.7, 0.9, 1.0)
    beta: float = 5.0  # attention-transfer weight (the loss uses beta / 2); tuned on posture (1, 5, 20, 100)

    @property
    def uses_teacher(self) -> bool:
        return self.kd or self.at

    @property
    def label(self) -> str:
        return "+".join(t for t, on in (("KD", self.kd), ("AT", self.at)) if on) or "CE"


def attention_map(features: tf.Tensor, size: tuple[int, int] | None = None) -> tf.Tensor:
    """``(N, H, W, C)`` features -> ``(N, h*w)`` L2-normalised attention (mean over channels of A^2),
    resized to ``size = (h, w)`` first when given and different from ``(H, W)``."""
    amap = tf.reduce_mean(tf.square(features), axis=-1, keepdims=True)
    if size is not None and tuple(amap.shape[1:3]) != tuple(size):
        shrink = size[0] <= amap.shape[1] and size[1] <= amap.shape[2]
        amap = tf.image.resize(amap, size, method="area" if shrink else "bilinear")
    flat = tf.reshape(amap, (tf.shape(amap)[0], -1))
    return flat / tf.sqrt(tf.reduce_sum(tf.square(flat), axis=1, keepdims=True) + _NORM_EPS)


def kd_loss(student_logits: tf.Tensor, teacher_logits: tf.Tensor, temperature: float) -> tf.Tensor:
    """``T^2 * KL(softmax(t/T) || softmax(s/T))`` averaged over the batch."""
    t = tf.cast(temperature, student_logits.dtype)
    p_t = tf.nn.softmax(teacher_logits / t)
    log_p_t = tf.nn.log_softmax(teacher_logits / t)
    log_p_s = tf.nn.log_softmax(student_logits / t)
    kl = tf.reduce_sum(p_t * (log_p_t - log_p_s), axis=-1)
    return t * t * tf.reduce_mean(kl)


def at_loss(student_maps: Sequence[tf.Tensor], teacher_maps: Sequence[tf.Tensor]) -> tf.Tensor:
    """Sum over pairs of the batch mean of ``||Q_s - Q_t||_2`` (maps already normalised, same shapes).
    A tiny epsilon inside the square root keeps the gradient finite when the maps coincide."""
    total = tf.constant(0.0)
    for qs, qt in zip(student_maps, teacher_maps, strict=True):
        diff = qs - tf.cast(qt, qs.dtype)
        total += tf.reduce_mean(tf.sqrt(tf.reduce_sum(tf.square(diff), axis=1) + _NORM_EPS))
    return total


def matched_stages(teacher: keras.Model, student: keras.Model) -> list[str]:
    """Stage names present in both models (student order): the attention-transfer pairs."""
    teacher_stages = set(stage_layer_names(teacher))
    return [n for n in stage_layer_names(student) if n in teacher_stages]


def _stage_sizes(model: keras.Model, names: Sequence[str]) -> list[tuple[int, int]]:
    return [(int(model.get_layer(n).output.shape[1]), int(model.get_layer(n).output.shape[2])) for n in names]


@dataclass
class TeacherTargets:
    """What the frozen teacher says about each training sample."""

    logits: np.ndarray  # (N, classes)
    attention: list[np.ndarray]  # one (N, h*w) normalised map per matched stage, at the student's size
    stages: list[str]


def teacher_targets(
    teacher: keras.Model,
    x: Mapping[str, np.ndarray],
    stages: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    *,
    batch_size: int = 256,
) -> TeacherTargets:
    """Run the teacher (inference mode) once over ``x`` and keep its logits and attention maps."""
    view = feature_model(teacher, list(stages))
    names = [inp.name for inp in view.inputs]
    n = len(next(iter(x.values())))
    logits, maps = [], [[] for _ in stages]
    for start in range(0, n, batch_size):
        batch = {k: x[k][start : start + batch_size] for k in names}
        outs = view(batch, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        logits.append(np.asarray(outs[0]))
        for i, (feat, size) in enumerate(zip(outs[1:], sizes, strict=True)):
            maps[i].append(np.asarray(attention_map(feat, size)))
    return TeacherTargets(
        logits=np.concatenate(logits).astype(np.float32),
        attention=[np.concatenate(m).astype(np.float32) for m in maps],
        stages=list(stages),
    )


class Distiller(keras.Model):
    """Trains ``student`` with the loss of the module docstring; reads teacher targets from the batch.

    A batch is ``(x, targets)`` with ``targets["label"]`` (class probabilities: one-hot, or mixed by
    mixup) and, when the config uses the
    teacher, ``targets["teacher_logits"]`` and ``targets["teacher_att<i>"]`` for stage ``i`` of
    ``stages``. Validation only needs ``"label"`` and reports the student's hard-label loss and accuracy.
    """

    def __init__(self, student: keras.Model, config: DistillConfig, stages: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.config = config
        self.stages = list(stages) if config.at else []
        self.sizes = _stage_sizes(student, self.stages)
        self.view = feature_model(student, self.stages)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ce_tracker = keras.metrics.Mean(name="ce")
        self.kd_tracker = keras.metrics.Mean(name="kd")
        self.at_tracker = keras.metrics.Mean(name="at")
        self.acc_tracker = keras.metrics.CategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.ce_tracker, self.kd_tracker, self.at_tracker, self.acc_tracker]

    def call(self, x, training=False):
        outs = self.view(x, training=training)
        return outs[0] if isinstance(outs, (list, tuple)) else outs

    def _loss_terms(self, x, targets, training: bool):
        outs = self.view(x, training=training)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        logits = outs[0]
        y = targets["label"]
        ce = tf.reduce_mean(keras.losses.categorical_crossentropy(y, logits, from_logits=True))
        zero = tf.constant(0.0)
        kd = kd_loss(logits, targets["teacher_logits"], self.config.temperature) if self.config.kd else zero
        if self.config.at:
            s_maps = [attention_map(f, size) for f, size in zip(outs[1:], self.sizes, strict=True)]
            t_maps = [targets[f"teacher_att{i}"] for i in range(len(self.stages))]
            at = at_loss(s_maps, t_maps)
        else:
            at = zero
        w_ce = 1.0 - self.config.alpha if self.config.kd else 1.0
        total = w_ce * ce + self.config.alpha * kd + 0.5 * self.config.beta * at
        return logits, total, ce, kd, at

    def _track(self, y, logits, total, ce, kd, at):
        self.loss_tracker.update_state(total)
        self.ce_tracker.update_state(ce)
        self.kd_tracker.update_state(kd)
        self.at_tracker.update_state(at)
        self.acc_tracker.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, targets = data
        with tf.GradientTape() as tape:
            logits, total, ce, kd, at = self._loss_terms(x, targets, training=True)
        variables = self.student.trainable_variables
        grads = tape.gradient(total, variables)
        self.optimizer.apply(grads, variables)
        return self._track(targets["label"], logits, total, ce, kd, at)

    def test_step(self, data):
        x, targets = data
        outs = self.view(x, training=False)
        logits = outs[0] if isinstance(outs, (list, tuple)) else outs
        y = targets["label"]
        ce = tf.reduce_mean(keras.losses.categorical_crossentropy(y, logits, from_logits=True))
        zero = tf.constant(0.0)
        return self._track(y, logits, ce, ce, zero, zero)


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[np.asarray(y, dtype=np.int64)]


def make_targets(
    labels: np.ndarray, config: DistillConfig, teacher_out: TeacherTargets | None
) -> dict[str, np.ndarray]:
    """The ``targets`` dict of a training set for :class:`Distiller`; ``labels`` are class probabilities
    ``(N, classes)`` (see :func:`one_hot`)."""
    targets: dict[str, np.ndarray] = {"label": np.asarray(labels, dtype=np.float32)}
    if config.uses_teacher:
        if teacher_out is None:
            raise ValueError(f"distillation config {config.label} needs teacher targets")
        if config.kd:
            targets["teacher_logits"] = teacher_out.logits
        if config.at:
            for i, amap in enumerate(teacher_out.attention):
                targets[f"teacher_att{i}"] = amap
    return targets
