"""Students, teacher, distillation losses, int8 quantisation and the training pipeline (quick, synthetic)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from tinym2net.data.dataset import Dataset, Split  # noqa: E402
from tinym2net.distill import (  # noqa: E402
    DistillConfig,
    Distiller,
    at_loss,
    attention_map,
    kd_loss,
    make_targets,
    matched_stages,
    one_hot,
    teacher_targets,
)
from tinym2net.models.student import (  # noqa: E402
    StudentConfig,
    build_student,
    fold_batchnorm,
    size_student,
    stage_layer_names,
    weight_bytes,
)
from tinym2net.models.teacher import TeacherConfig, build_teacher  # noqa: E402
from tinym2net.quantize import (  # noqa: E402
    evaluate_tflite,
    input_names,
    predict_tflite,
    quantize_array,
    quantize_inputs,
    quantize_int8,
    tflite_weight_bytes,
)
from tinym2net.training import TrainSettings, fit_model, float_accuracy, train_pipeline  # noqa: E402

POSTURE = {"depth": (8, 8, 1), "thermal": (24, 32, 1)}
AVDIGITS = {"audio": (49, 10, 1), "image": (8, 8, 1)}
TINY_TEACHER = TeacherConfig(widths=(16, 16, 16), convs_per_stage=1, head_units=32)
WEIGHT_BUDGET = 6 * 1024


def _split(rng: np.random.Generator, n: int) -> Split:
    """Class c: a bright square of side 2 + 2 * (c % 3) at a random place in depth (needs depth), and a
    warm (c < 3) or cold (c >= 3) 8x8 patch at a random place in thermal (needs thermal)."""
    y = rng.integers(0, 6, n)
    depth = rng.normal(0, 0.2, (n, 8, 8, 1)).astype(np.float32)
    thermal = rng.normal(0, 0.2, (n, 24, 32, 1)).astype(np.float32)
    for i, c in enumerate(y):
        side = 2 + 2 * (c % 3)
        r, q = rng.integers(0, 9 - side, 2)
        depth[i, r : r + side, q : q + side, 0] += 1.0
        r, q = rng.integers(0, 16), rng.integers(0, 24)
        thermal[i, r : r + 8, q : q + 8, 0] += 1.0 if c < 3 else -1.0
    return Split({"depth": depth, "thermal": thermal}, y.astype(np.int64))


@pytest.fixture(scope="module")
def data() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset("synthetic", dict(POSTURE), [f"c{i}" for i in range(6)], _split(rng, 256), _split(rng, 64),
                   _split(rng, 64), seed=0)


@pytest.fixture(scope="module")
def trained(data):
    """A tiny teacher and a KD+AT student trained for a few epochs (with their epoch logs), the student's
    export model and its int8 model."""
    keras.utils.set_random_seed(0)
    settings = TrainSettings(batch_size=32, patience=50, mixup_copies=0, jit_compile=False)
    teacher = build_teacher(data.modalities, 6, TINY_TEACHER)
    fit_model(teacher, data.train, data.val, config=DistillConfig(), epochs=8, lr=5e-3, settings=settings, seed=0)
    student = build_student(data.modalities, 6)
    stages = matched_stages(teacher, student)
    history = keras.callbacks.History()
    fit_model(student, data.train, data.val, config=DistillConfig(kd=True, at=True, beta=2.0), epochs=8,
              lr=5e-3, settings=settings, seed=0, teacher=teacher, stages=stages, callbacks=[history])
    export = fold_batchnorm(student, data.modalities, 6, StudentConfig())
    tfl = quantize_int8(export, data.train.x, num_samples=64)
    return teacher, history.history, export, tfl


# ---- models ----


def test_student_inputs_outputs_and_stages():
    m = build_student(POSTURE, 6)
    assert [i.name for i in m.inputs] == ["depth", "thermal"]
    assert tuple(m.output.shape) == (None, 6)
    assert stage_layer_names(m) == [
        "depth_stage0", "thermal_stage0", "depth_stage1", "thermal_stage1", "depth_stage2", "thermal_stage2"
    ]
    single = build_student({"thermal": POSTURE["thermal"]}, 6, name="single_thermal")
    assert [i.name for i in single.inputs] == ["thermal"]
    assert all(n.startswith("thermal_") for n in stage_layer_names(single))


def test_teacher_stages_pair_with_student_stages():
    teacher = build_teacher(AVDIGITS, 10)
    student = build_student(AVDIGITS, 10)
    stages = matched_stages(teacher, student)
    assert stages == stage_layer_names(student)  # every student stage has a teacher partner
    assert teacher.count_params() > 3 * student.count_params()
    strided = build_student(AVDIGITS, 10, StudentConfig(stem_limit=8))
    for s in stages:  # the strided student plan is the teacher's
        assert teacher.get_layer(s).output.shape[1:3] == strided.get_layer(s).output.shape[1:3]
    sizes = [tuple(student.get_layer(n).output.shape[1:3]) for n in stages]
    assert sizes[0] == (49, 10)  # the default student keeps full resolution in its stem
    x = {k: np.random.default_rng(0).normal(size=(3, *v)).astype(np.float32) for k, v in AVDIGITS.items()}
    t = teacher_targets(teacher, x, stages, sizes)
    assert t.logits.shape == (3, 10)
    for amap, (h, w) in zip(t.attention, sizes, strict=True):  # teacher maps resized to the student's
        assert amap.shape == (3, h * w)
        np.testing.assert_allclose(np.linalg.norm(amap, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("modalities,classes,width,nbytes", [(POSTURE, 6, 12, 5880), (AVDIGITS, 10, 11, 5892)],
                         ids=["posture", "avdigits"])
def test_student_sized_to_weight_budget(modalities, classes, width, nbytes):
    cfg = size_student(modalities, classes, WEIGHT_BUDGET)
    assert cfg.width == width and cfg.pool == "avgmax"
    export = build_student(modalities, classes, cfg, batchnorm=False)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in export.layers)
    assert weight_bytes(export) == nbytes <= WEIGHT_BUDGET  # int8 weights + int32 biases, counted by hand:
    # 2 branches x (stem 9w + 4w, dw 9w + 4w, pw 2w^2 + 8w, dw 18w + 8w, pw 8w^2 + 16w) + logits (16w + 4) x classes
    assert nbytes == 2 * (10 * width**2 + 76 * width) + (16 * width + 4) * classes
    wider = build_student(modalities, classes, replace(cfg, width=width + 1), batchnorm=False)
    assert weight_bytes(wider) > WEIGHT_BUDGET  # the largest width that fits
    assert size_student(modalities, classes, 20_000).width > width
    with pytest.raises(ValueError, match="smallest student"):
        size_student(modalities, classes, 100)


def test_fold_batchnorm_keeps_outputs(data):
    keras.utils.set_random_seed(1)
    m = build_student(POSTURE, 6)
    rng = np.random.default_rng(1)
    for layer in m.layers:  # non-trivial BN statistics
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c),
                               rng.uniform(0.2, 3, c)])
    folded = fold_batchnorm(m, POSTURE, 6, StudentConfig())
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    x = {k: v[:16] for k, v in data.test.x.items()}
    np.testing.assert_allclose(folded(x, training=False), m(x, training=False), rtol=1e-4, atol=1e-5)


# ---- losses ----


def test_attention_map_is_unit_norm_and_resized():
    f = tf.random.normal((3, 8, 8, 5))
    q = attention_map(f)
    assert q.shape == (3, 64)
    np.testing.assert_allclose(tf.norm(q, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(q, attention_map(-2.0 * f), rtol=1e-5)  # |A|^2 and normalisation
    assert attention_map(f, (4, 4)).shape == (3, 16)


def test_kd_and_at_losses():
    s = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    assert float(kd_loss(s, s, 4.0)) == pytest.approx(0.0, abs=1e-6)
    t = tf.constant([[0.0, 3.0, -1.0], [0.0, 0.5, 2.0]])
    pos = float(kd_loss(s, t, 4.0))
    assert pos > 0
    p_t, p_s = tf.nn.softmax(t / 2.0), tf.nn.softmax(s / 2.0)
    kl = tf.reduce_mean(tf.reduce_sum(p_t * (tf.math.log(p_t) - tf.math.log(p_s)), axis=1))
    assert float(kd_loss(s, t, 2.0)) == pytest.approx(4.0 * float(kl), rel=1e-5)
    q = attention_map(tf.random.normal((4, 6, 6, 3)))
    assert float(at_loss([q], [q])) == pytest.approx(0.0, abs=1e-5)
    q2 = attention_map(tf.random.normal((4, 6, 6, 3)))
    d = float(at_loss([q, q], [q2, q2]))
    assert d == pytest.approx(2 * float(tf.reduce_mean(tf.norm(q - q2, axis=1))), rel=1e-4)


def test_distiller_terms_switch(data, trained):
    teacher = trained[0]
    student = build_student(data.modalities, 6)
    stages = matched_stages(teacher, student)
    x = {k: v[:16] for k, v in data.train.x.items()}
    t = teacher_targets(teacher, x, stages, [tuple(student.get_layer(n).output.shape[1:3]) for n in stages])
    labels = one_hot(data.train.y[:16], 6)
    terms = {}
    for cfg in (DistillConfig(), DistillConfig(kd=True), DistillConfig(at=True), DistillConfig(kd=True, at=True)):
        _, total, ce, kd, at = Distiller(student, cfg, stages)._loss_terms(x, make_targets(labels, cfg, t), False)
        terms[cfg.label] = [float(v) for v in (total, ce, kd, at)]
    assert terms["CE"][2:] == [0.0, 0.0] and terms["CE"][0] == pytest.approx(terms["CE"][1])
    assert terms["KD"][2] > 0 and terms["KD"][3] == 0.0
    assert terms["AT"][2] == 0.0 and terms["AT"][3] > 0
    assert terms["KD+AT"][2:] == pytest.approx([terms["KD"][2], terms["AT"][3]], rel=1e-5)
    cfg = DistillConfig(kd=True, at=True)
    assert terms["KD+AT"][0] == pytest.approx(
        (1 - cfg.alpha) * terms["KD+AT"][1] + cfg.alpha * terms["KD+AT"][2] + cfg.beta / 2 * terms["KD+AT"][3],
        rel=1e-5)


def test_distillation_losses_decrease(trained):
    h = trained[1]
    for key in ("loss", "ce", "kd", "at"):
        assert all(np.isfinite(h[key])), key
        assert h[key][-1] < h[key][0], (key, h[key])
    assert max(h["val_accuracy"]) > 0.5  # chance is 1/6


def test_distiller_refuses_teacher_config_without_targets(data):
    with pytest.raises(ValueError, match="teacher"):
        fit_model(build_student(data.modalities, 6), data.train, data.val, config=DistillConfig(kd=True),
                  epochs=1, lr=1e-3, settings=TrainSettings(), seed=0)
    assert isinstance(Distiller(build_student(data.modalities, 6), DistillConfig()), keras.Model)


# ---- int8 ----


def test_int8_model_is_all_integer_and_importable(trained):
    _, _, export, tfl = trained
    it = litert.Interpreter(model_content=tfl)
    it.allocate_tensors()
    assert sorted(input_names(tfl)) == ["depth", "thermal"]
    for d in it.get_input_details() + it.get_output_details():
        assert d["dtype"] == np.int8
    dtypes = {np.dtype(d["dtype"]) for d in it.get_tensor_details()}
    assert dtypes <= {np.dtype(np.int8), np.dtype(np.int32)}, dtypes
    assert tflite_weight_bytes(tfl) == weight_bytes(export)
    importer = pytest.importorskip("tinym2net.importer")
    graph = importer.parse_tflite(tfl, "student")
    kinds = {op.kind.value for op in graph.operators}
    assert kinds <= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN", "CONCATENATION", "SOFTMAX",
                     "MAX_POOL_2D", "RESHAPE", "AVERAGE_POOL_2D", "ADD"}, kinds
    assert {"QUANTIZE", "DEQUANTIZE"}.isdisjoint(kinds)
    assert sorted(graph.tensor(i).name.split(":")[0].removeprefix("serving_default_") for i in graph.inputs) == [
        "depth", "thermal"]


def test_quantize_inputs_matches_interpreter_quantize(data, trained):
    """A float-input conversion of the same model starts with TFLite's own QUANTIZE op; its int8 output
    must equal quantize_inputs() of the int8-input model, byte for byte."""
    _, _, export, tfl = trained
    names = [i.name for i in export.inputs]
    rep_idx = np.linspace(0, len(data.train) - 1, 64).round().astype(int)

    def rep():
        for i in rep_idx:
            yield {n: data.train.x[n][i : i + 1] for n in names}

    conv = tf.lite.TFLiteConverter.from_keras_model(export)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    float_in = conv.convert()
    it = litert.Interpreter(model_content=float_in, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    quant_out = {}  # input name -> (int8 tensor index) of the QUANTIZE op that reads it
    details = {d["index"]: d for d in it.get_tensor_details()}
    for op in it._get_ops_details():
        if op["op_name"] == "QUANTIZE":
            src = details[op["inputs"][0]]["name"].split(":")[0].removeprefix("serving_default_")
            quant_out[src] = op["outputs"][0]
    assert set(quant_out) == {"depth", "thermal"}
    x = {k: np.concatenate([v[:8], v[:1] * 50.0, -v[:1] * 50.0]) for k, v in data.test.x.items()}  # + clamping
    ours = dict(zip(input_names(tfl), quantize_inputs(tfl, x), strict=True))
    it_int8 = litert.Interpreter(model_content=tfl)
    for d in it_int8.get_input_details():  # same calibration -> same input scales
        name = d["name"].split(":")[0].removeprefix("serving_default_")
        assert details[quant_out[name]]["quantization"] == d["quantization"]
    for i in range(len(x["depth"])):
        for d in it.get_input_details():
            it.set_tensor(d["index"], x[d["name"].split(":")[0].removeprefix("serving_default_")][i : i + 1])
        it.invoke()
        for name, idx in quant_out.items():
            np.testing.assert_array_equal(it.get_tensor(idx)[0], ours[name][i])


def test_quantize_array_rounds_half_away_from_zero():
    q = quantize_array(np.array([0.5, -0.5, 1.5, -1.5, 0.49999997, 300.0, -300.0]), 1.0, 0)
    np.testing.assert_array_equal(q, [1, -1, 2, -2, 0, 127, -128])
    assert quantize_array(np.array([0.0]), 0.1, -5)[0] == -5


def test_int8_accuracy_tracks_float(data, trained):
    _, _, export, tfl = trained
    f = float_accuracy(export, data.test)
    q = evaluate_tflite(tfl, data.test)
    assert f > 0.5  # learnt something (chance is 1/6)
    assert abs(q - f) <= 0.1
    out = predict_tflite(tfl, {k: v[:5] for k, v in data.test.x.items()})
    assert out.shape == (5, 6) and out.dtype == np.int8


# ---- pipeline ----


def test_train_pipeline_quick(data):
    """Every stage once, on a small slice of the data for one epoch each (eager: nothing to trace)."""
    rng = np.random.default_rng(5)
    data = Dataset("synthetic", dict(POSTURE), data.class_names, _split(rng, 64), _split(rng, 32),
                   _split(rng, 32), seed=0)
    seen = []
    settings = TrainSettings(teacher_epochs=1, student_epochs=1, batch_size=64, patience=5, rep_samples=32,
                             mixup_copies=0, run_eagerly=True)
    r = train_pipeline(data, seed=3, quick=True, progress=lambda *a: seen.append(a[0]),
                       teacher_config=TINY_TEACHER, settings=settings)
    assert set(r.scores) == {"teacher", "student", "student_kd", "student_kd_at", "single_depth",
                             "single_thermal"}
    assert seen == ["teacher", "student", "student_kd", "student_kd_at", "single_depth", "single_thermal"]
    for s in r.scores.values():
        assert 0.0 <= s.float_accuracy <= 1.0 and 0.0 <= s.int8_accuracy <= 1.0
        assert s.epochs_run == 1
    assert r.weight_bytes == weight_bytes(r.student) <= WEIGHT_BUDGET
    assert r.scores["single_depth"].weight_bytes < r.weight_bytes
    assert r.int8_accuracy == evaluate_tflite(r.tflite, data.test)
    assert r.seed == 3 and r.deterministic
