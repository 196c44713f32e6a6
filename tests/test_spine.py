"""The spine end to end: .tflite -> IR -> plan -> C -> host build / PlatformIO firmware -> QEMU, vs LiteRT.

Rungs two and three of the numeric ladder: the whole model compiled for the host against the LiteRT
reference interpreter (reference kernels), and the firmware in the emulator against the same.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MLPERF_MODELS, mlperf_path, require_cross_tools

from tinym2net.artifact import write_artifact
from tinym2net.boards import load_board
from tinym2net.compiler import compile_graph
from tinym2net.hostrun import build_host_model, run_host_model
from tinym2net.importer import parse_tflite
from tinym2net.reference import random_inputs, run_litert
from tinym2net.verify import check_model, compare_outputs, first_differing_layer
from tinym2net.zoo import ZOO_MODELS


def _host_compare(model: bytes, name: str, tmp: Path, n: int = 12) -> tuple[int, int]:
    graph = parse_tflite(model, name=name)
    compiled = compile_graph(graph, model)
    write_artifact(compiled, tmp, model_name=name, board=None)
    exe = build_host_model(tmp, tmp / "model_host")
    samples = random_inputs(graph, n, seed=7)
    got = run_host_model(exe, graph, samples)
    want = run_litert(model, graph, samples)
    total = sum(a.nbytes for s in want for a in s)
    return compare_outputs(got, want), total


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_host_build_bit_exact_with_litert(name: str, tmp_path: Path) -> None:
    bad, total = _host_compare(mlperf_path(name).read_bytes(), name, tmp_path)
    assert total > 0
    assert bad == 0


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_host_build_bit_exact_with_litert(name: str, zoo_dir: Path, tmp_path: Path) -> None:
    bad, total = _host_compare((zoo_dir / f"{name}.tflite").read_bytes(), name, tmp_path, n=16)
    assert total > 0
    assert bad == 0


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinym2net.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=900)


@pytest.mark.emulator
@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_check_json_mlperf_bit_exact_in_emulator(name: str, tmp_path: Path) -> None:
    require_cross_tools()
    proc = _cli("check", str(mlperf_path(name)), "--board", "nano33", "--json", "--inputs", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    obj = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert obj["bit_exact"] is True
    assert obj["inputs_compared"] == 4
    assert obj["board"] == "nano33"
    for key in ("arena_bytes", "ram_bytes", "flash_bytes", "weights_bytes"):
        assert isinstance(obj[key], int) and obj[key] > 0
    assert obj["ram_bytes"] > obj["arena_bytes"]
    assert obj["flash_bytes"] > obj["weights_bytes"]
    assert list(tmp_path.iterdir()) == []  # nothing written into the current directory


@pytest.mark.emulator
def test_check_zoo_models_bit_exact_in_emulator(zoo_dir: Path) -> None:
    """Every supported op, multi-input models (2 and 3 graph inputs) and float edges, in QEMU."""
    require_cross_tools()
    board = load_board("nano33")
    for name in ZOO_MODELS:
        res = check_model(zoo_dir / f"{name}.tflite", board, inputs=6, seed=3)
        assert res.bit_exact, (name, res.first_mismatch)
        assert res.inputs_compared == 6


def test_layer_by_layer_comparison_names_the_first_differing_operator(tmp_path: Path) -> None:
    """Corrupt one operator's parameters in the generated C: the host trace must name exactly that operator."""
    model = mlperf_path("kws_ref_model").read_bytes()
    graph = parse_tflite(model, name="kws")
    compiled = compile_graph(graph, model)
    write_artifact(compiled, tmp_path, model_name="kws", board=None)
    target = compiled.plan.order[3]
    src = tmp_path / "src" / "model.c"
    text = src.read_text()
    # the input offset: with TM2_RQ_HIGHMUL tables the output offset lives in the table, not the params
    pattern = re.compile(rf"(op{target}_params = \{{.*?\.input_offset = )(-?\d+)", re.S)
    assert pattern.search(text), "operator parameter block not found"
    src.write_text(pattern.sub(lambda m: m.group(1) + str(int(m.group(2)) + 3), text, count=1))
    sample = random_inputs(graph, 1, seed=0)[0]
    first = first_differing_layer(model, graph, tmp_path, sample, tmp_path)
    assert first is not None
    assert first["operator"] == target
    assert first["op"] == graph.operators[target].kind.value
    assert first["differing_bytes"] > 0


def test_generated_sources_are_deterministic_and_bannered(tmp_path: Path) -> None:
    model = mlperf_path("pretrainedResnet_quant").read_bytes()
    outs = []
    for k in range(2):
        graph = parse_tflite(model, name="resnet")
        d = tmp_path / f"a{k}"
        write_artifact(compile_graph(graph, model), d, model_name="resnet", board="nano33")
        outs.append({p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()})
    assert outs[0] == outs[1]
    header = outs[0][Path("src/model.h")].decode()
    assert header.startswith("/* Generated by tinym2net")
    arena = int(re.search(r"#define TM2_MODEL_ARENA_BYTES (\d+)u", header).group(1))
    meta = json.loads(outs[0][Path("metadata.json")])
    assert arena == meta["arena_bytes"] > 0
    for name, data in outs[0].items():
        if name.suffix in (".c", ".h"):
            text = data.decode()
            assert text.startswith("/* Generated by tinym2net"), name
            assert "malloc" not in text and "calloc" not in text
    weights = outs[0][Path("src/model_weights.c")].decode()
    assert weights.count("__attribute__((aligned(16)))") >= 10


@pytest.mark.emulator
def test_compile_writes_artifact_and_project_that_pio_test_passes(tmp_path: Path) -> None:
    require_cross_tools()
    out = tmp_path / "out"
    proc = _cli("compile", str(mlperf_path("ad01_int8")), "--board", "nano33", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "model" / "metadata.json").exists()
    assert (out / "project" / "platformio.ini").exists()
    ini = (out / "project" / "platformio.ini").read_text()
    assert "[env:nano33ble]" in ini and "nordicnrf52" in ini
    from tinym2net.toolchain import pio_environment, pio_executable

    proj = out / "project"
    test = subprocess.run(
        [str(pio_executable()), "test", "-e", "emulator"], cwd=proj, capture_output=True, text=True,
        env=pio_environment(proj), timeout=600,
    )
    assert test.returncode == 0, test.stdout[-3000:]
    assert "PASSED" in test.stdout
    # a second compile into the same folder is allowed (we wrote it); a foreign folder is not
    again = _cli("compile", str(mlperf_path("ad01_int8")), "--board", "nano33", "--out", str(out))
    assert again.returncode == 0, again.stderr
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = _cli("compile", str(mlperf_path("ad01_int8")), "--board", "nano33", "--out", str(foreign))
    assert refused.returncode == 2
    assert "--force" in refused.stderr and refused.stderr.count("\n") == 1
    assert (foreign / "notes.txt").read_text() == "mine"


def test_unknown_board_lists_known_boards(tmp_path: Path) -> None:
    proc = _cli("check", str(mlperf_path("ad01_int8")), "--board", "nosuchboard")
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "nano33" in proc.stderr and "nosuchboard" in proc.stderr


def test_missing_model_is_one_line(tmp_path: Path) -> None:
    proc = _cli("check", str(tmp_path / "absent.tflite"))
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "absent.tflite" in proc.stderr


def test_reference_semantics_tflm_matches_tflite_micro(tmp_path: Path) -> None:
    """ad01's fully connected layers round differently in TFLite Micro; reference='tflm' reproduces it."""
    from tinym2net.reference import run_tflm

    model = mlperf_path("ad01_int8").read_bytes()
    graph = parse_tflite(model, name="ad01")
    graph.reference = "tflm"
    write_artifact(compile_graph(graph, model), tmp_path, model_name="ad01", board=None)
    exe = build_host_model(tmp_path, tmp_path / "host")
    samples = random_inputs(graph, 8, seed=1)
    got = run_host_model(exe, graph, samples)
    assert compare_outputs(got, run_tflm(model, graph, samples)) == 0
    # and the two interpreters really differ on these inputs, so the switch matters
    assert compare_outputs(got, run_litert(model, graph, samples)) > 0
    assert np.asarray(got[0][0]).dtype == np.int8
