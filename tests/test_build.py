"""`tinym2net build --quick` end to end, and the stages on their own (train -> quantize -> compile).

The build trains on the quick posture demo, compiles the int8 student, builds the firmware and runs the whole
test split in QEMU: the on-device accuracy must equal the host int8 accuracy exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert.interpreter")

from tinym2net.verify import require_firmware_tools  # noqa: E402

REPORT_KEYS = {
    "demo", "board", "teacher_accuracy", "student_float_accuracy", "student_int8_accuracy", "device_accuracy",
    "single_modality_accuracy", "weights_bytes", "ram_bytes", "flash_bytes", "seed",
}


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true"}
    return subprocess.run([sys.executable, "-m", "tinym2net", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture(scope="module")
def tools():
    try:
        require_firmware_tools()
    except Exception as e:  # the one-line error names the missing tool
        pytest.skip(str(e))


def test_quick_build_device_accuracy_equals_host_int8(tools, tmp_path: Path):
    out = tmp_path / "run"
    res = _cli("build", "--board", "nano33", "--quick", "--out", str(out), "-q")
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert report["demo"] == "posture" and report["board"] == "nano33" and report["seed"] == 0
    assert report["device_accuracy"] == report["student_int8_accuracy"]
    assert report["device_bit_exact"] is True
    assert set(report["single_modality_accuracy"]) == {"depth", "thermal"}
    assert report["ablations"] == {}  # not asked for
    assert 0 < report["weights_bytes"] < report["flash_bytes"] <= report["board_flash_bytes"]
    assert report["arena_bytes"] < report["ram_bytes"] <= report["board_sram_bytes"]
    for part in ("model.tflite", "model/metadata.json", "project/platformio.ini"):
        assert (out / part).is_file(), part
    assert "bit-exact" in res.stdout and "device" in res.stdout  # the summary table


def test_stages_train_quantize_compile(tools, tmp_path: Path):
    trained = tmp_path / "trained"
    res = _cli("train", "--demo", "avdigits", "--quick", "--epochs", "3", "--out", str(trained))
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((trained / "train_report.json").read_text())
    assert {"teacher", "student_kd_at", "single_audio", "single_image"} == set(report["scores"])
    assert (trained / "student.keras").is_file() and (trained / "model.tflite").is_file()

    tfl = tmp_path / "student.tflite"
    res = _cli("quantize", str(trained / "student.keras"), "--demo", "avdigits", "--quick", "--out", str(tfl))
    assert res.returncode == 0, res.stderr[-2000:]
    assert tfl.read_bytes()[4:8] == b"TFL3"

    res = _cli("compile", str(tfl), "--board", "nano33", "--out", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr[-2000:]
    meta = json.loads((tmp_path / "c" / "model" / "metadata.json").read_text())
    names = sorted(i["name"] for i in meta["inputs"])
    assert len(names) == 2 and "audio" in names[0] and "image" in names[1], names
