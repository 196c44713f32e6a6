"""Rung three of the numeric ladder, layer by layer: the firmware of each MLPerf Tiny model, built by PlatformIO for
the Nano 33 (its DSP kernels, in place as `tinym2net check` plans them) with TM2_TRACE, runs in the emulator and
writes every operator's output as it is made; each must equal LiteRT's tensor byte for byte. The final outputs
alone can agree while a layer in the middle is wrong (a softmax of two classes hides a lot)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.emulator

SAMPLES = 2


def parse_trace(data: bytes) -> list[tuple[int, bytes]]:
    """(operator index, output bytes) in the order the firmware wrote them (main.c.j2's tm2_trace)."""
    records, pos = [], 0
    while pos < len(data):
        assert pos + 8 <= len(data), "trace cut inside a record header"
        op, n = (int(v) for v in np.frombuffer(data[pos : pos + 8], dtype="<i4"))
        records.append((op, data[pos + 8 : pos + 8 + n]))
        pos += 8 + n
        assert pos <= len(data), "trace cut inside a record"
    return records


def test_parse_trace_reads_records_and_rejects_a_cut_one():
    data = np.array([3, 2], "<i4").tobytes() + b"\x01\x02" + np.array([4, 0], "<i4").tobytes()
    assert parse_trace(data) == [(3, b"\x01\x02"), (4, b"")]
    with pytest.raises(AssertionError):
        parse_trace(data[:-1])


@pytest.mark.parametrize("name", ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"])
def test_dsp_firmware_every_operator_matches_litert(name, tmp_path, monkeypatch):
    from conftest import mlperf_path, require_cross_tools

    from tinym2net.artifact import write_artifact
    from tinym2net.boards import load_board
    from tinym2net.compiler import compile_graph
    from tinym2net.importer import parse_tflite
    from tinym2net.project import generate_project
    from tinym2net.reference import pack_samples, random_inputs, run_litert_all_tensors
    from tinym2net.toolchain import pio_build, run_qemu

    require_cross_tools()
    board = load_board("nano33")
    model = mlperf_path(name).read_bytes()
    graph = parse_tflite(model, name=name)
    compiled = compile_graph(graph, model)
    write_artifact(compiled, tmp_path / "artifact", model_name=name, board=board.name)
    project = generate_project(tmp_path / "artifact", board, tmp_path / "project")
    monkeypatch.setenv("PLATFORMIO_BUILD_FLAGS", "-DTM2_TRACE")  # PlatformIO adds these to build_flags
    build = pio_build(project, env="emulator")
    samples = random_inputs(graph, SAMPLES, seed=11)
    run = tmp_path / "run"
    run.mkdir()
    (run / "tm2_in.bin").write_bytes(pack_samples(samples))
    res = run_qemu(build.elf, board, run, 300)
    assert res.returncode == 0, res.stderr[-2000:]
    trace = parse_trace((run / "tm2_trace.bin").read_bytes())
    per_sample = len(trace) // SAMPLES
    ops = [op for op, _ in trace[:per_sample]]
    # every operator once a sample, in the graph's order
    assert len(trace) == SAMPLES * per_sample and ops == sorted(set(ops)) and len(ops) >= len(graph.operators) - 2
    assert all([op for op, _ in trace[s * per_sample : (s + 1) * per_sample]] == ops for s in range(SAMPLES))
    compared = 0
    for s, sample in enumerate(samples):
        ref = run_litert_all_tensors(model, graph, sample)
        for op_index, data in trace[s * per_sample : (s + 1) * per_sample]:
            op = graph.operators[op_index]
            want = np.ascontiguousarray(ref[op.outputs[0]]).view(np.uint8).reshape(-1).tobytes()
            diff = sum(a != b for a, b in zip(want, data, strict=False)) + abs(len(want) - len(data))
            assert diff == 0, f"{name}, sample {s}: operator {op_index} ({op.kind.value}) differs in {diff} bytes"
            compared += 1
    assert compared == SAMPLES * len(ops)
