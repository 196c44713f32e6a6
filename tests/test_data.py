"""Data sources: determinism, shapes, balance, caching, quick-mode speed, and users' data loaders."""

from __future__ import annotations

import shutil
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tinym2net.data import audio, load_dataset, posture
from tinym2net.data.coswara import load_coswara
from tinym2net.data.manifest import load_manifest
from tinym2net.data.store import cache_file, stratified_split
from tinym2net.errors import DataError

# ---------------------------------------------------------------------------------------------
# fixtures written with numpy + wave / Pillow only


def write_wav(path: Path, seconds: float = 1.2, freq: float = 440.0, sr: int = 16000, width: int = 2,
              channels: int = 1, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * freq * t) * np.exp(-((t - seconds / 2) ** 2) / 0.05)
    x = x + 0.01 * rng.normal(size=t.size)
    pcm = np.clip(np.rint(x * 32767), -32768, 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1).reshape(-1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


def write_png(path: Path, shape=(8, 8), value: int = 100) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full(shape, value, np.uint8)
    arr[0, 0] = 255
    Image.fromarray(arr, mode="L").save(path)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# splits and the cache


def test_stratified_split_is_disjoint_balanced_and_seeded():
    y = np.repeat(np.arange(4), 40)
    a = stratified_split(y, np.random.default_rng(3))
    b = stratified_split(y, np.random.default_rng(3))
    c = stratified_split(y, np.random.default_rng(4))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    joined = np.concatenate(a)
    assert sorted(joined.tolist()) == list(range(160))
    for idx, n in zip(a, (28, 6, 6), strict=True):
        assert np.array_equal(np.bincount(y[idx], minlength=4), [n] * 4)


# ---------------------------------------------------------------------------------------------
# posture


def test_posture_is_seeded_balanced_and_in_range():
    d1, t1, y1 = posture.generate(60, seed=5)
    d2, t2, y2 = posture.generate(60, seed=5)
    d3, t3, _ = posture.generate(60, seed=6)
    assert np.array_equal(d1, d2) and np.array_equal(t1, t2) and np.array_equal(y1, y2)
    assert not np.array_equal(t1, t3) and not np.array_equal(d1, d3)
    assert d1.shape == (60, 8, 8, 1) and t1.shape == (60, 24, 32, 1)
    assert d1.dtype == np.float32 and t1.dtype == np.float32 and y1.dtype == np.int64
    assert np.array_equal(np.bincount(y1, minlength=6), [10] * 6)
    assert d1.min() >= -1.0 and d1.max() <= 1.0
    assert t1.min() >= -1.0 and t1.max() <= 2.0
    assert np.isfinite(d1).all() and np.isfinite(t1).all()


def test_posture_renders_people_warm_and_bodies_near_the_floor_when_fallen():
    depth, thermal, y = posture.generate(240, seed=1)
    warm = (thermal[..., 0] > 0.3).sum(axis=(1, 2))  # pixels more than 3 C above the frame median
    person = y != posture.EMPTY
    assert warm[person].mean() > 3 * warm[~person].mean()
    # a standing person is seen in more zones nearer than the max range than an empty room
    near = (depth[..., 0] < 0.9).sum(axis=(1, 2))
    assert near[y == posture.STANDING].mean() > near[y == posture.EMPTY].mean()
    # depth can tell a person lying on a bed (higher, nearer the sensor) from one fallen on the floor:
    # on average the nearest valid zone is nearer for standing people than for fallen ones
    valid = np.where(depth[..., 0] > -1.0, depth[..., 0], 1.0)
    nearest = valid.min(axis=(1, 2))
    assert nearest[y == posture.STANDING].mean() < nearest[y == posture.FALLEN].mean()


def test_load_dataset_posture_quick_caches_and_is_fast(tmp_path):
    t0 = time.perf_counter()
    ds = load_dataset("posture", seed=2, quick=True, cache_dir=tmp_path)
    build_s = time.perf_counter() - t0
    assert build_s < 30  # a few seconds on an idle machine
    assert ds.name == "posture" and ds.class_names == posture.CLASS_NAMES and ds.num_classes == 6
    assert ds.modalities == {"depth": (8, 8, 1), "thermal": (24, 32, 1)}
    assert len(ds.train) + len(ds.val) + len(ds.test) == 480
    assert (len(ds.train), len(ds.val), len(ds.test)) == (336, 72, 72)
    for split in (ds.train, ds.val, ds.test):
        assert np.array_equal(np.bincount(split.y, minlength=6), [len(split) // 6] * 6)
        assert split.x["depth"].shape == (len(split), 8, 8, 1)
        assert split.x["thermal"].dtype == np.float32
    path = cache_file(tmp_path, "posture", 2, True, posture.GENERATOR_VERSION)
    assert path.is_file()
    t0 = time.perf_counter()
    again = load_dataset("posture", seed=2, quick=True, cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 2.0
    assert np.array_equal(again.test.x["thermal"], ds.test.x["thermal"])
    assert np.array_equal(again.train.y, ds.train.y)
    # what the cache serves is what the generator makes
    fresh = posture.build(seed=2, quick=True)
    assert np.array_equal(fresh.train.x["depth"], ds.train.x["depth"])


def test_unknown_dataset_name_is_a_data_error():
    with pytest.raises(DataError, match="unknown data set 'nope'"):
        load_dataset("nope")


# ---------------------------------------------------------------------------------------------
# audio front end


def test_mfcc_shape_and_wav_roundtrip(tmp_path):
    p = write_wav(tmp_path / "a.wav", seconds=1.0, channels=2)
    x, sr = audio.read_wav(p)
    assert sr == 16000 and x.shape == (16000,)
    feat = audio.wav_features(p)
    assert feat.shape == (49, 10, 1) and feat.dtype == np.float32
    assert np.allclose(feat[..., 0].mean(axis=0), 0, atol=1e-4)
    # resampling keeps the frequency of a tone
    tone = np.sin(2 * np.pi * 1000 * np.arange(22050) / 22050)
    r = audio.resample(tone, 22050, 16000)
    assert r.size == 16000
    assert abs(np.argmax(np.abs(np.fft.rfft(r))) - 1000) <= 1
    # a louder copy gives the same normalised features
    y, _ = audio.read_wav(p)
    assert np.allclose(audio.features(y * 0.5, 16000), audio.features(y, 16000), atol=1e-3)


# ---------------------------------------------------------------------------------------------
# avdigits


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("flite") is None,
                    reason="espeak-ng or flite is not installed (apt-get install espeak-ng flite)")
def test_avdigits_quick(tmp_path):
    from tinym2net.data import avdigits

    ds = load_dataset("avdigits", seed=0, quick=True, cache_dir=tmp_path)
    assert ds.modalities == {"audio": (49, 10, 1), "image": (8, 8, 1)}
    assert ds.class_names == [str(d) for d in range(10)]
    assert (len(ds.train), len(ds.val), len(ds.test)) == (280, 60, 60)
    for split in (ds.train, ds.val, ds.test):
        assert np.array_equal(np.bincount(split.y, minlength=10), [len(split) // 10] * 10)
        assert np.isfinite(split.x["audio"]).all()
        assert split.x["image"].min() >= -2.0 and split.x["image"].max() <= 2.0
    bank = cache_file(tmp_path, "avdigits-clips", 0, True, avdigits.CLIPS_VERSION)
    assert bank.is_file()
    with np.load(bank) as z:
        assert set(np.unique(z["engines"])) == {0, 1}  # both engines synthesised
        assert (z["lengths"] > 1600).all()  # every clip has > 0.1 s of speech
    # rebuilding from the cached clips gives identical arrays (seeded augmentation)
    again = avdigits.build(seed=0, quick=True, cache_dir=tmp_path)
    assert np.array_equal(again.train.x["audio"], ds.train.x["audio"])
    assert np.array_equal(again.test.x["image"], ds.test.x["image"])


def test_avdigits_without_speech_engines_says_how_to_install(tmp_path, monkeypatch):
    from tinym2net.data import avdigits

    monkeypatch.setattr(avdigits.shutil, "which", lambda tool: None if tool == "flite" else "/usr/bin/" + tool)
    with pytest.raises(DataError, match=r"flite not found .*apt-get install espeak-ng flite"):
        load_dataset("avdigits", quick=True, cache_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# manifest


def _good_manifest(tmp: Path, split: bool = True) -> Path:
    rows = []
    (tmp / "npy").mkdir(parents=True, exist_ok=True)
    for i in range(12):
        lab = ["cat", "bird", "ant"][i % 3]
        write_wav(tmp / "wav" / f"{i}.wav", seconds=0.5 + 0.1 * i, freq=300 + 50 * i, seed=i)
        write_png(tmp / "png" / f"{i}.png", value=10 * i)
        np.save(tmp / "npy" / f"{i}.npy", np.full((5, 3), float(i)))
        row = [lab, f"wav/{i}.wav", f"png/{i}.png", f"npy/{i}.npy", f"note {i}"]
        if split:
            row.append(["train", "train", "val", "test"][i % 4])
        rows.append(row)
    header = ["label", "sound", "picture", "feat", "_note"] + (["split"] if split else [])
    return write_csv(tmp / "data.csv", header, rows)


def test_manifest_loads_every_file_type_with_its_split(tmp_path):
    ds = load_manifest(_good_manifest(tmp_path))
    assert ds.name == "data"
    assert ds.class_names == ["ant", "bird", "cat"]
    assert ds.modalities == {"sound": (49, 10, 1), "picture": (8, 8, 1), "feat": (5, 3, 1)}
    assert (len(ds.train), len(ds.val), len(ds.test)) == (6, 3, 3)
    # row i=2 is 'ant', in val, and its .npy holds 2.0 everywhere
    assert ds.val.x["feat"][0, 0, 0, 0] == 2.0 and ds.val.y[0] == 0
    assert ds.train.x["picture"].max() == 1.0  # 255 -> 1
    assert abs(ds.train.x["picture"][0, 1, 1, 0] - (0 / 127.5 - 1)) < 1e-6
    assert "_note" not in ds.modalities


def test_manifest_without_split_column_is_seeded_and_stratified(tmp_path):
    path = _good_manifest(tmp_path, split=False)
    a = load_manifest(path, seed=1)
    b = load_dataset(str(path), seed=1)
    c = load_manifest(path, seed=2)
    assert np.array_equal(a.train.x["feat"], b.train.x["feat"])
    assert not np.array_equal(a.train.x["feat"], c.train.x["feat"])
    assert len(a.train) + len(a.val) + len(a.test) == 12
    assert set(a.train.y.tolist()) == {0, 1, 2}


def _bad_cases():
    """(name, edit(tmp, rows, header) -> (rows, header), expected fragments in the message)."""

    def missing_file(tmp, rows, header):
        rows[3][1] = "wav/nothere.wav"
        return rows, header, ["line 5", "column sound", "nothere.wav", "missing file"]

    def unreadable_wav(tmp, rows, header):
        (tmp / "wav" / "junk.wav").write_bytes(b"this is not a wav file at all")
        rows[1][1] = "wav/junk.wav"
        return rows, header, ["line 3", "junk.wav", "cannot read"]

    def wrong_shape(tmp, rows, header):
        write_png(tmp / "png" / "big.png", shape=(9, 8))
        rows[6][2] = "png/big.png"
        return rows, header, ["line 8", "column picture", "(9, 8, 1)", "differs from (8, 8, 1)"]

    def unknown_split(tmp, rows, header):
        rows[2][5] = "training"
        return rows, header, ["line 4", "column split", "'training'", "use train, val or test"]

    def empty_label(tmp, rows, header):
        rows[4][0] = ""
        return rows, header, ["line 6", "empty label"]

    def single_class(tmp, rows, header):
        for r in rows:
            r[0] = "cat"
        return rows, header, ["only one class ('cat')"]

    def bad_extension(tmp, rows, header):
        rows[0][3] = "npy/0.txt"
        return rows, header, ["line 2", "column feat", "0.txt", "unsupported file type"]

    def wrong_npy(tmp, rows, header):
        np.save(tmp / "npy" / "nan.npy", np.array([[np.nan, 1.0]]))
        rows[7][3] = "npy/nan.npy"
        return rows, header, ["line 9", "nan.npy", "NaN"]

    def no_label_column(tmp, rows, header):
        header = ["class", *header[1:]]
        return rows, header, ["no 'label' column"]

    def cell_count(tmp, rows, header):
        rows[5] = rows[5][:4]
        return rows, header, ["line 7", "4 cells but the header has 6"]

    def missing_split(tmp, rows, header):
        for r in rows:
            r[5] = "train" if r[5] == "test" else r[5]
        return rows, header, ["no row has split 'test'"]

    return [missing_file, unreadable_wav, wrong_shape, unknown_split, empty_label, single_class, bad_extension,
            wrong_npy, no_label_column, cell_count, missing_split]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda f: f.__name__)
def test_manifest_bad_rows_name_file_and_line(tmp_path, case):
    path = _good_manifest(tmp_path)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    rows = [ln.split(",") for ln in lines[1:]]
    rows, header, fragments = case(tmp_path, rows, header)
    write_csv(path, header, rows)
    with pytest.raises(DataError) as err:
        load_manifest(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "data.csv" in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_missing_manifest_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(str(tmp_path / "none.csv"))


# ---------------------------------------------------------------------------------------------
# Coswara


def _coswara(tmp: Path, n: int = 8, nested: bool = False) -> Path:
    root = tmp / "coswara"
    rows = []
    statuses = ["healthy", "positive_mild", "negative", "positive"]
    for i in range(n):
        pid = f"p{i:03d}"
        folder = root / ("20200501" if nested else "") / pid
        write_wav(folder / "cough-heavy.wav", seconds=2.5, freq=700 + 10 * i, seed=i)
        write_wav(folder / "breathing-deep.wav", seconds=3.0, freq=200 + 5 * i, sr=44100, seed=i + 100)
        write_wav(folder / ("counting-normal.wav" if i % 2 else "counting-fast.wav"), seconds=4.0, freq=150,
                  sr=48000, seed=i + 200)
        rows.append([pid, statuses[i % 4]])
    rows.append(["pskip", "recovered_full"])  # skipped, has no folder
    write_csv(root / "metadata.csv", ["id", "covid_status"], rows)
    return root


def test_coswara_loads_three_audio_modalities(tmp_path):
    root = _coswara(tmp_path, nested=True)
    ds = load_dataset(f"coswara:{root}", seed=0)
    assert ds.class_names == ["negative", "positive"]
    assert ds.modalities == {"cough": (49, 10, 1), "breathing": (49, 10, 1), "counting": (49, 10, 1)}
    n = len(ds.train) + len(ds.val) + len(ds.test)
    assert n == 8
    ys = np.concatenate([ds.train.y, ds.val.y, ds.test.y])
    assert np.array_equal(np.bincount(ys), [4, 4])
    assert all(np.isfinite(s.x[m]).all() for s in (ds.train, ds.val, ds.test) for m in ds.modalities)


@pytest.mark.parametrize(
    "case,fragments",
    [
        ("missing_wav", ["line 4", "column breathing", "breathing-deep.wav", "missing file"]),
        ("bad_wav", ["line 3", "column cough", "cough-heavy.wav", "cannot read"]),
        ("no_folder", ["line 5", "p003", "no folder"]),
        ("unknown_status", ["line 6", "'maybe'", "use positive or negative"]),
        ("empty_status", ["line 7", "empty status"]),
        ("single_class", ["only one class ('negative')"]),
    ],
)
def test_coswara_bad_rows_name_file_and_line(tmp_path, case, fragments):
    root = _coswara(tmp_path)
    meta = root / "metadata.csv"
    rows = [ln.split(",") for ln in meta.read_text().splitlines()[1:]]
    if case == "missing_wav":
        (root / "p002" / "breathing-deep.wav").unlink()
    elif case == "bad_wav":
        (root / "p001" / "cough-heavy.wav").write_bytes(b"RIFF....WAVEjunk")
    elif case == "no_folder":
        shutil.rmtree(root / "p003")
    elif case == "unknown_status":
        rows[4][1] = "maybe"
    elif case == "empty_status":
        rows[5][1] = ""
    elif case == "single_class":
        for r in rows:
            r[1] = "healthy"
    write_csv(meta, ["id", "covid_status"], rows)
    with pytest.raises(DataError) as err:
        load_coswara(root)
    msg = str(err.value)
    assert "\n" not in msg and "metadata.csv" in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
