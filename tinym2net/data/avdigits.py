"""Audio-visual digits (like AV-MNIST): a spoken digit and an 8x8 handwritten digit of the same class.

Audio (modality ``audio``, shape (49, 10, 1))
    Each spoken digit ("zero" ... "nine") is synthesised once per *voice configuration*:
    espeak-ng (8 English voices x 21 variants, speed ``-s`` 110-230 words/min, pitch ``-p`` 15-85)
    or flite (voices kal, kal16, awb, rms, slt; duration stretch 0.8-1.35, mean F0 75-220 Hz).
    A sample takes one clip of its class, trims its silences, applies a random gain and a random
    position inside a 1 s window (time shift), and adds background noise (white, pink, brown or
    mains hum plus harmonics) at a random SNR; then the MFCC front end of
    :mod:`tinym2net.data.audio` (49x10, per-utterance mean/variance normalisation).

Image (modality ``image``, shape (8, 8, 1))
    scikit-learn's ``load_digits`` (1797 handwritten 8x8 digits, 0-16), shifted by up to a pixel,
    scaled to [0, 1], with Gaussian pixel noise and, on most samples, an occluding block of random
    size, position and grey level; finally mapped to [-1, 1] (2 x - 1).

Splits
    Clips (split per digit and engine, so that both engines' voices appear in every split) and
    images are divided 70/15/15 before pairing: no clip or image of the test split is seen in
    training. Samples are balanced over the 10 classes; each clip and image is reused with fresh
    noise, shift and occlusion. Full size: 2400 clips, 6000 samples; quick: 120 clips, 400 samples.

Synthesis is the slow part, so the clip bank is cached separately (``avdigits-clips-*.npz``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import audio
from .dataset import Dataset, Split
from .store import DEFAULT_FRACTIONS, cache_file, cached, default_cache_dir, stratified_split

CLASS_NAMES = [str(d) for d in range(10)]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
GENERATOR_VERSION = 2
CLIPS_VERSION = 2
ESPEAK_VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
                 "en-us-nyc"]
ESPEAK_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak", "klatt",
                   "klatt2", "klatt3", "whisper", "grandpa", "aunty", "edward"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
ENGINES = ["espeak-ng", "flite"]
MAX_CLIP = 24000  # samples kept per synthesised clip (1.5 s at 16 kHz), after trimming silence


@dataclass(frozen=True)
class AVConfig:
    """Corruption knobs (the defaults set the demo's difficulty)."""

    snr_db: tuple[float, float] = (-10.0, 8.0)
    image_noise: tuple[float, float] = (0.1, 0.25)  # sigma on the [0, 1] scale
    p_occlusion: float = 0.5
    occlusion_size: tuple[int, int] = (2, 4)  # block side range in pixels (inclusive)


def _check_tools() -> None:
    missing = [t for t in ENGINES if shutil.which(t) is None]
    if missing:
        raise DataError(
            f"{' and '.join(missing)} not found (needed to synthesise the spoken digits): "
            "install them with `sudo apt-get install espeak-ng flite`"
        )


@dataclass(frozen=True)
class _ClipSpec:
    digit: int
    engine: int  # index into ENGINES
    argv: tuple[str, ...]  # command without the output path


def _clip_specs(n_per_digit: int, rng: np.random.Generator) -> list[_ClipSpec]:
    """Random voice configurations: about two thirds espeak-ng, one third flite, per digit."""
    specs = []
    for digit in range(10):
        n_flite = n_per_digit // 3
        for k in range(n_per_digit):
            if k < n_flite:
                voice = FLITE_VOICES[rng.integers(len(FLITE_VOICES))]
                argv = ("flite", "-voice", voice, "-t", WORDS[digit],
                        "--setf", f"duration_stretch={rng.uniform(0.8, 1.35):.3f}",
                        "--setf", f"int_f0_target_mean={rng.uniform(75, 220):.1f}")
                specs.append(_ClipSpec(digit, 1, argv))
            else:
                voice = ESPEAK_VOICES[rng.integers(len(ESPEAK_VOICES))]
                variant = ESPEAK_VARIANTS[rng.integers(len(ESPEAK_VARIANTS))]
                argv = ("espeak-ng", "-v", voice + (f"+{variant}" if variant else ""),
                        "-s", str(int(rng.integers(110, 231))), "-p", str(int(rng.integers(15, 86))),
                        WORDS[digit])
                specs.append(_ClipSpec(digit, 0, argv))
    return specs


def _trim(x: np.ndarray, rel: float = 0.02) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``rel`` of the peak."""
    loud = np.flatnonzero(np.abs(x) > rel * (np.abs(x).max() + 1e-12))
    return x[loud[0] : loud[-1] + 1] if loud.size else x


def _synthesise(spec: _ClipSpec, tmpdir: Path, index: int) -> np.ndarray:
    out = tmpdir / f"clip{index}.wav"
    argv = list(spec.argv)
    if spec.engine == 0:
        argv[1:1] = ["-w", str(out)]
    else:
        argv += ["-o", str(out)]
    proc = subprocess.run(argv, capture_output=True, timeout=60)
    if proc.returncode != 0 or not out.exists():
        raise DataError(
            f"speech synthesis failed ({' '.join(argv)}): {proc.stderr.decode(errors='replace').strip()[:200]}; "
            "check that espeak-ng and flite work on this machine"
        )
    x, sr = audio.read_wav(out)
    out.unlink()
    return _trim(audio.resample(x, sr))[:MAX_CLIP]


def synthesise_clips(n_per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All clips end to end as 16-bit PCM values [sum of lengths] int16, lengths [M], digits [M] and
    engine index [M] (0 espeak-ng, 1 flite) for ``n_per_digit`` clips of each of the 10 digits."""
    _check_tools()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA0D10]))
    specs = _clip_specs(n_per_digit, rng)
    with tempfile.TemporaryDirectory(prefix="tm2-avdigits-") as tmp, ThreadPoolExecutor(4) as pool:
        waves = list(pool.map(lambda a: _synthesise(a[1], Path(tmp), a[0]), enumerate(specs)))
    pcm = np.concatenate([np.clip(np.rint(w * 32767.0), -32768, 32767).astype(np.int16) for w in waves])
    lengths = np.array([w.size for w in waves], np.int64)
    digits = np.array([s.digit for s in specs], np.int64)
    engines = np.array([s.engine for s in specs], np.int64)
    return pcm, lengths, digits, engines


def _clip_bank(n_per_digit: int, seed: int, quick: bool, cache_dir: Path):
    path = cache_file(cache_dir, "avdigits-clips", seed, quick, CLIPS_VERSION)
    try:
        with np.load(path) as z:
            return z["pcm"], z["lengths"], z["digits"], z["engines"]
    except (OSError, KeyError, ValueError):
        pass
    bank = synthesise_clips(n_per_digit, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez(tmp, pcm=bank[0], lengths=bank[1], digits=bank[2], engines=bank[3])
    tmp.replace(path)
    return bank


def _noise(kind: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power background noise [len(kind), n]: 0 white, 1 pink, 2 brown, 3 mains hum + harmonics."""
    white = rng.normal(0, 1, (kind.size, n))
    spec = np.fft.rfft(white, axis=1)
    f = np.maximum(np.fft.rfftfreq(n, 1 / audio.SAMPLE_RATE), 20.0)
    pink = np.fft.irfft(spec / np.sqrt(f), n, axis=1)
    brown = np.fft.irfft(spec / f, n, axis=1)
    t = np.arange(n) / audio.SAMPLE_RATE
    base = rng.choice([50.0, 60.0], kind.size)[:, None]
    hum = sum(np.sin(2 * np.pi * base * h * t + rng.uniform(0, 6.3, (kind.size, 1))) / h for h in (1, 2, 3, 5, 7))
    hum = hum + 0.3 * white
    out = np.select([kind[:, None] == 0, kind[:, None] == 1, kind[:, None] == 2], [white, pink, brown], hum)
    return out / np.sqrt((out**2).mean(axis=1, keepdims=True))


def _audio_features(pcm, lengths, pick, rng: np.random.Generator, cfg: AVConfig, chunk: int = 256) -> np.ndarray:
    """Shifted, noisy 1 s windows of the clips ``pick`` -> normalised MFCC [len(pick), 49, 10, 1]."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out = np.empty((pick.size, *audio.MFCC_SHAPE), np.float32)
    n = audio.CLIP_SAMPLES
    for s in range(0, pick.size, chunk):
        idx = pick[s : s + chunk]
        m = idx.size
        sig = np.zeros((m, n))
        for j, c in enumerate(idx):
            x = pcm[starts[c] : starts[c] + lengths[c]] / 32768.0
            if x.size > n:  # keep a random 1 s part of a long clip
                st = rng.integers(0, x.size - n + 1)
                x = x[st : st + n]
            off = rng.integers(0, n - x.size + 1)
            sig[j, off : off + x.size] = x * rng.uniform(0.3, 1.0)
        speech_pow = (sig**2).sum(axis=1) / np.maximum(lengths[idx].clip(max=n), 1)
        snr = rng.uniform(*cfg.snr_db, m)
        noise = _noise(rng.integers(0, 4, m), n, rng) * np.sqrt(speech_pow / 10 ** (snr / 10))[:, None]
        out[s : s + m, ..., 0] = audio.normalise(audio.mfcc(sig + noise))
    return out


def _images(base: np.ndarray, pick: np.ndarray, rng: np.random.Generator, cfg: AVConfig) -> np.ndarray:
    """Shift, noise and occlude the 8x8 images ``base[pick]`` (in [0, 1]) -> [-1, 1], [len(pick), 8, 8, 1]."""
    m = pick.size
    img = np.pad(base[pick], ((0, 0), (1, 1), (1, 1)))
    dy, dx = rng.integers(0, 3, m), rng.integers(0, 3, m)
    rows = dy[:, None] + np.arange(8)[None, :]
    cols = dx[:, None] + np.arange(8)[None, :]
    img = img[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]
    img = img + rng.normal(0, 1, img.shape) * rng.uniform(*cfg.image_noise, (m, 1, 1))
    lo, hi = cfg.occlusion_size
    h, w = rng.integers(lo, hi + 1, m), rng.integers(lo, hi + 1, m)
    y0, x0 = rng.integers(0, 9 - h), rng.integers(0, 9 - w)
    r, c = np.arange(8)[None, :, None], np.arange(8)[None, None, :]
    block = ((r >= y0[:, None, None]) & (r < (y0 + h)[:, None, None]) & (c >= x0[:, None, None])
             & (c < (x0 + w)[:, None, None]) & (rng.random(m) < cfg.p_occlusion)[:, None, None])
    img = np.where(block, rng.uniform(0, 1, (m, 1, 1)), img)
    return (np.clip(img, -0.5, 1.5) * 2 - 1)[..., None].astype(np.float32)


def build(seed: int = 0, quick: bool = False, cache_dir: Path | None = None, cfg: AVConfig | None = None) -> Dataset:
    """The audio-visual digits dataset (see the module doc)."""
    from sklearn.datasets import load_digits

    cfg = cfg or AVConfig()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    per_digit, n_samples = (12, 400) if quick else (240, 6000)
    pcm, lengths, digits, engines = _clip_bank(per_digit, seed, quick, cache_dir)
    digits_data = load_digits()
    images = digits_data.images / 16.0
    image_y = digits_data.target.astype(np.int64)

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA7D1]))
    clip_split = stratified_split(digits * 2 + engines, rng)
    image_split = stratified_split(image_y, rng)
    splits = []
    for k, frac in enumerate(DEFAULT_FRACTIONS):
        n_k = int(round(n_samples * frac))
        y = rng.permutation(np.arange(n_k) % 10).astype(np.int64)
        clip_pick = np.empty(n_k, np.int64)
        image_pick = np.empty(n_k, np.int64)
        for d in range(10):
            where = np.flatnonzero(y == d)
            pool_c = clip_split[k][digits[clip_split[k]] == d]
            pool_i = image_split[k][image_y[image_split[k]] == d]
            clip_pick[where] = rng.choice(pool_c, where.size)
            image_pick[where] = rng.choice(pool_i, where.size)
        x = {"audio": _audio_features(pcm, lengths, clip_pick, rng, cfg),
             "image": _images(images, image_pick, rng, cfg)}
        splits.append(Split(x=x, y=y))
    return Dataset(
        name="avdigits",
        modalities={"audio": audio.MFCC_SHAPE, "image": (8, 8, 1)},
        class_names=list(CLASS_NAMES),
        train=splits[0],
        val=splits[1],
        test=splits[2],
        seed=seed,
    )


def load(seed: int = 0, quick: bool = False, cache_dir: Path | None = None) -> Dataset:
    """:func:`build`, cached."""
    return cached("avdigits", seed, quick, GENERATOR_VERSION, cache_dir,
                  lambda: build(seed=seed, quick=quick, cache_dir=cache_dir))
