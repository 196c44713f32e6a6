"""Audio front end shared by the spoken-digit demo, manifests and Coswara: WAV -> 49x10 MFCC.

The features are the MLPerf Tiny keyword-spotting input: 1 s of 16 kHz audio, STFT with a 640-sample
(40 ms) periodic Hann window and a 320-sample (20 ms) hop -> 49 frames; FFT size 1024; magnitude
spectrum -> 40 triangular mel bands between 20 and 4000 Hz (HTK mel scale, 2595 log10(1 + f/700));
natural log (floor 1e-6) -> DCT-II (orthonormal) -> the first 10 coefficients.

Per-utterance normalisation: every coefficient is shifted to zero mean and scaled to unit variance
over the 49 frames (cepstral mean and variance normalisation; the variance floor keeps silence
finite). This removes most of the voice / channel / loudness differences between speakers and
synthesis engines, so values are roughly unit variance.

Audio that is not 1 s long:
* shorter: zero-padded (the clip is centred);
* longer, ``mode="loudest"``: the 1 s window (50 ms steps) with the most energy is kept;
* longer, ``mode="average"``: MFCCs (each normalised) of 1 s windows with a 0.5 s hop are averaged.

Audio at another sample rate is resampled to 16 kHz by FFT (band-limited) resampling; stereo is
averaged to mono.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
WINDOW = 640
HOP = 320
N_FFT = 1024
N_MELS = 40
N_MFCC = 10
F_MIN, F_MAX = 20.0, 4000.0
N_FRAMES = 1 + (CLIP_SAMPLES - WINDOW) // HOP  # 49
MFCC_SHAPE = (N_FRAMES, N_MFCC, 1)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples as float64 in [-1, 1] (mono) and the sample rate of a PCM WAV file.

    Uses the standard-library ``wave`` module (8, 16, 24 and 32-bit integer PCM); falls back to
    ``soundfile`` when installed for other encodings (float WAV, ...). Unreadable files raise
    ``wave.Error``, ``OSError``, ``EOFError`` or ``ValueError``, or soundfile's error.
    """
    try:
        with wave.open(str(path), "rb") as w:
            n_ch, width, sr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except wave.Error as err:
        try:
            import soundfile
        except ImportError:
            raise err from None
        data, sr = soundfile.read(str(path), dtype="float64", always_2d=True)
        return data.mean(axis=1), int(sr)
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)
    else:
        raise ValueError(f"unsupported sample width {width}")
    if n_ch > 1:
        x = x[: len(x) // n_ch * n_ch].reshape(-1, n_ch).mean(axis=1)
    return x, int(sr)


def write_wav(path: Path, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write mono float samples in [-1, 1] as 16-bit PCM."""
    pcm = np.clip(np.rint(np.asarray(x) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def resample(x: np.ndarray, sr_from: int, sr_to: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by truncating or zero-padding the real FFT spectrum."""
    if sr_from == sr_to or x.size == 0:
        return np.asarray(x, dtype=np.float64)
    n_out = max(1, int(round(x.size * sr_to / sr_from)))
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, spec.size)
    out[:m] = spec[:m]
    return np.fft.irfft(out, n_out) * (n_out / x.size)


def _mel_filterbank() -> np.ndarray:
    """[N_FFT//2+1, N_MELS] triangular filters, equally spaced on the HTK mel scale."""

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(F_MIN), hz_to_mel(F_MAX), N_MELS + 2))
    freqs = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(up, down)).T


def _dct_matrix() -> np.ndarray:
    """Orthonormal DCT-II basis, [N_MELS, N_MFCC]."""
    k = np.arange(N_MFCC)[None, :]
    n = np.arange(N_MELS)[:, None]
    m = np.cos(np.pi / N_MELS * (n + 0.5) * k) * np.sqrt(2.0 / N_MELS)
    m[:, 0] /= np.sqrt(2.0)
    return m


_MEL_FULL = _mel_filterbank()
_N_BINS = int(np.flatnonzero(_MEL_FULL.any(axis=1))[-1]) + 1  # bins above F_MAX carry no weight
_MEL = _MEL_FULL[:_N_BINS]
_DCT = _dct_matrix()
_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic
_FRAME_IDX = np.arange(N_FRAMES)[:, None] * HOP + np.arange(WINDOW)[None, :]


def mfcc(clips: np.ndarray) -> np.ndarray:
    """Raw MFCCs of 1 s clips: [..., 16000] -> [..., 49, 10] (before normalisation)."""
    frames = clips[..., _FRAME_IDX] * _HANN
    mag = np.abs(np.fft.rfft(frames, n=N_FFT, axis=-1)[..., :_N_BINS])
    return np.log(mag @ _MEL + 1e-6) @ _DCT


def normalise(feat: np.ndarray) -> np.ndarray:
    """Per-utterance, per-coefficient mean/variance normalisation over frames (axis -2)."""
    mean = feat.mean(axis=-2, keepdims=True)
    std = feat.std(axis=-2, keepdims=True)
    return (feat - mean) / np.maximum(std, 1e-3)


def fit_one_second(x: np.ndarray) -> np.ndarray:
    """Centre-pad a clip shorter than 1 s; longer clips are returned unchanged."""
    if x.size >= CLIP_SAMPLES:
        return x
    out = np.zeros(CLIP_SAMPLES)
    start = (CLIP_SAMPLES - x.size) // 2
    out[start : start + x.size] = x
    return out


def loudest_second(x: np.ndarray, step: int = 800) -> np.ndarray:
    """The 1 s window (``step``-sample grid) with the most energy; shorter clips are centre-padded."""
    x = fit_one_second(x)
    if x.size == CLIP_SAMPLES:
        return x
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, x.size - CLIP_SAMPLES + 1, step)
    energy = csum[starts + CLIP_SAMPLES] - csum[starts]
    s = int(starts[np.argmax(energy)])
    return x[s : s + CLIP_SAMPLES]


def features(x: np.ndarray, sr: int, mode: str = "loudest") -> np.ndarray:
    """Normalised MFCC [49, 10, 1] float32 of a mono signal at any rate (see the module doc)."""
    x = resample(np.asarray(x, dtype=np.float64), sr, SAMPLE_RATE)
    if mode == "average" and x.size > CLIP_SAMPLES:
        starts = np.arange(0, x.size - CLIP_SAMPLES + 1, CLIP_SAMPLES // 2)
        feat = normalise(mfcc(np.stack([x[s : s + CLIP_SAMPLES] for s in starts]))).mean(axis=0)
    elif mode in ("loudest", "average"):
        feat = normalise(mfcc(loudest_second(x)))
    else:
        raise ValueError(f"unknown audio mode {mode!r}")
    return feat[..., None].astype(np.float32)


def wav_features(path: Path, mode: str = "loudest") -> np.ndarray:
    """:func:`features` of a WAV file."""
    x, sr = read_wav(path)
    return features(x, sr, mode)
