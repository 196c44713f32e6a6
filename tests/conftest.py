"""Shared fixtures: the MLPerf Tiny reference models (from ../shared) and the zoo of test models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MLPERF_DIR = ROOT.parent / "shared" / "benchmarks" / "mlperf_tiny"
MLPERF_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def mlperf_path(name: str) -> Path:
    p = MLPERF_DIR / f"{name}.tflite"
    if not p.exists():
        pytest.skip(f"MLPerf Tiny model {p} not found (the shared/ folder beside the repository is missing)")
    return p


def require_cross_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory) -> Path:
    """Every zoo model converted once per test session."""
    from tinym2net.zoo import ZOO_MODELS, build_zoo_model

    d = tmp_path_factory.mktemp("zoo")
    for name in ZOO_MODELS:
        (d / f"{name}.tflite").write_bytes(build_zoo_model(name, seed=0))
    return d
