"""Scheduling, whole-graph memory plans (aliases, in-place, scratch), the plan verifier and per-layer analysis."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from tinym2net.analysis import analyze_graph
from tinym2net.ir import (
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    Graph,
    Operator,
    OpKind,
    Padding,
    Tensor,
)
from tinym2net.memory_plan import MemoryPlan, PlanError, plan_graph, verify_plan
from tinym2net.ops.base import Lowered
from tinym2net.schedule import schedule_graph


def _a16(n: int) -> int:
    return -(-n // 16) * 16


def act(i: int, shape: tuple[int, ...], dtype: DType = DType.INT8) -> Tensor:
    return Tensor(i, f"t{i}", shape, dtype)


def const(i: int, shape: tuple[int, ...], dtype: DType = DType.INT8) -> Tensor:
    return Tensor(
        i, f"c{i}", shape, dtype, data=np.zeros(shape, dtype=np.int32 if dtype is DType.INT32 else np.int8)
    )


def plain(graph: Graph, **per_op: Lowered) -> dict[int, Lowered]:
    low = {op.index: Lowered("ops/none.j2", {}) for op in graph.operators}
    low.update({int(k[2:]): v for k, v in per_op.items()})  # keys like op3=Lowered(...)
    return low


def live_by_tensors(graph: Graph, order: tuple[int, ...], scratch: dict[int, int] | None = None) -> list[int]:
    """Live aligned bytes per step with one buffer per tensor (no alias, no in-place): an independent count."""
    ops = {op.index: op for op in graph.operators}
    acts = {t.index for t in graph.activation_tensors}
    birth = {t: 0 for t in graph.inputs}
    death: dict[int, int] = {}
    for s, k in enumerate(order):
        for t in ops[k].outputs:
            birth.setdefault(t, s)
        for t in ops[k].inputs:
            if t in acts:
                death[t] = s
    n = len(order)
    for t in acts:
        death[t] = max(death.get(t, birth[t]), birth[t])
    for t in graph.outputs:
        death[t] = n - 1
    live = [0] * n
    for t in acts:
        for s in range(birth[t], death[t] + 1):
            live[s] += _a16(graph.tensor(t).nbytes)
    for s, k in enumerate(order):
        live[s] += _a16((scratch or {}).get(k, 0))
    return live


def two_branch_graph() -> Graph:
    """Two modalities: in0 -> A (1000 B) -> a (16 B); in1 -> B (800 B) -> b (16 B); concat(a, b)."""
    tensors = [
        act(0, (64,)),
        act(1, (64,)),
        act(2, (1000,)),
        act(3, (16,)),
        act(4, (800,)),
        act(5, (16,)),
        act(6, (32,)),
    ]
    ops = [
        Operator(0, OpKind.FULLY_CONNECTED, (0,), (2,)),
        Operator(1, OpKind.FULLY_CONNECTED, (1,), (4,)),
        Operator(2, OpKind.FULLY_CONNECTED, (2,), (3,)),
        Operator(3, OpKind.FULLY_CONNECTED, (4,), (5,)),
        Operator(4, OpKind.CONCATENATION, (3, 5), (6,)),
    ]
    return Graph("two_branch", tensors, ops, [0, 1], [6])


# ---- scheduling ----


def test_branched_graph_runs_one_branch_at_a_time_smaller_peak():
    g = two_branch_graph()
    sched = schedule_graph(g, plain(g))
    # file order keeps A (1000 B) and B (800 B) alive together: 64+64+1000+800 = 1928 -> 1872 with 16-alignment
    assert sched.file_order_peak == 64 + 1008 + 800 == 1872
    assert sched.order == (1, 3, 0, 2, 4)
    assert sched.peak_bytes == 1088  # in0 + B->b done (16) + A (1008)
    assert sched.exact
    assert list(sched.step_bytes) == live_by_tensors(g, sched.order)
    plan = plan_graph(g, plain(g))
    assert plan.order == sched.order and plan.arena_bytes == 1088 and plan.peak_op == 0


def test_file_order_is_kept_when_it_is_already_optimal():
    g = two_branch_graph()
    g.tensors[2] = act(2, (16,))  # now both branches are small: nothing to gain
    g.tensors[4] = act(4, (16,))
    sched = schedule_graph(g, plain(g))
    assert sched.order == (0, 1, 2, 3, 4)
    assert sched.peak_bytes == sched.file_order_peak


def test_reorder_false_keeps_file_order():
    g = two_branch_graph()
    plan = plan_graph(g, plain(g), reorder=False)
    assert plan.order == (0, 1, 2, 3, 4)
    assert plan.arena_bytes == plan.peak_bytes == 1872


def test_beam_of_one_still_gives_a_valid_order():
    g = two_branch_graph()
    plan = plan_graph(g, plain(g), max_states=1)
    verify_plan(g, plan)
    assert plan.peak_bytes <= plan.file_order_peak


def _random_dag(rng: random.Random, n_ops: int) -> Graph:
    tensors = [act(0, (rng.randint(1, 200),)), act(1, (rng.randint(1, 200),))]
    ops = []
    for k in range(n_ops):
        pool = list(range(len(tensors)))
        ins = tuple(sorted(set(rng.sample(pool, rng.randint(1, min(2, len(pool)))))))
        out = len(tensors)
        tensors.append(act(out, (rng.randint(1, 300),)))
        ops.append(Operator(k, OpKind.ADD, ins, (out,)))
    used = {t for op in ops for t in op.inputs}
    outputs = [op.outputs[0] for op in ops if op.outputs[0] not in used]
    return Graph("dag", tensors, ops, [0, 1], outputs)


def test_schedule_peak_is_the_minimum_over_all_topological_orders():
    rng = random.Random(3)
    improved = 0
    for _ in range(25):
        g = _random_dag(rng, rng.randint(3, 6))
        scratch = {op.index: rng.choice([0, 0, 40, 200]) for op in g.operators}
        low = {k: Lowered("ops/none.j2", {}, scratch_bytes=s) for k, s in scratch.items()}
        best = None
        for perm in itertools.permutations(range(len(g.operators))):
            pos = {k: s for s, k in enumerate(perm)}
            producer = {op.outputs[0]: op.index for op in g.operators}
            if any(
                pos[producer[t]] > pos[op.index] for op in g.operators for t in op.inputs if t in producer
            ):
                continue
            peak = max(live_by_tensors(g, perm, scratch))
            best = peak if best is None else min(best, peak)
        plan = plan_graph(g, low)
        assert plan.peak_bytes == best
        assert list(plan.live_bytes) == live_by_tensors(g, plan.order, scratch)
        assert plan.arena_bytes >= plan.peak_bytes
        improved += plan.peak_bytes < plan.file_order_peak
    assert improved > 0


# ---- aliases, in-place, scratch ----


def fc_chain(mid_shape: tuple[int, ...], middle: OpKind, extra_read: bool = False) -> Graph:
    """in (64) -> FC -> a -> <middle> -> b -> FC -> out (16); optionally ADD(b, a) re-reads a afterwards."""
    tensors = [act(0, (64,)), act(1, mid_shape), act(2, (int(np.prod(mid_shape)),)), act(3, (16,))]
    ops = [
        Operator(0, OpKind.FULLY_CONNECTED, (0,), (1,)),
        Operator(1, middle, (1,), (2,)),
    ]
    if extra_read:
        tensors.append(act(4, (int(np.prod(mid_shape)),)))
        ops.append(Operator(2, OpKind.ADD, (2, 1), (4,)))
        ops.append(Operator(3, OpKind.FULLY_CONNECTED, (4,), (3,)))
    else:
        ops.append(Operator(2, OpKind.FULLY_CONNECTED, (2,), (3,)))
    return Graph("chain", tensors, ops, [0], [3])


def test_reshape_alias_shares_the_input_offset():
    g = fc_chain((1, 4, 4, 8), OpKind.RESHAPE)
    plan = plan_graph(g, plain(g, op1=Lowered("ops/reshape.j2", {}, alias=True)))
    assert plan.offsets[2] == plan.offsets[1]
    assert plan.shared == {2: 1} and plan.alias_ops == {1}
    assert plan.arena_bytes == 64 + 128  # never two copies of the 128 B tensor
    without = plan_graph(g, plain(g))
    assert without.arena_bytes == 256


def test_inplace_elementwise_reuses_a_dying_input():
    g = fc_chain((512,), OpKind.LOGISTIC)
    plan = plan_graph(g, plain(g, op1=Lowered("ops/logistic.j2", {"inplace_input": 0})))
    assert plan.inplace_ops == {1} and plan.shared == {2: 1}
    assert plan.offsets[2] == plan.offsets[1]
    assert plan.live_bytes == (576, 512, 528)
    assert plan.arena_bytes == 576
    assert plan_graph(g, plain(g)).arena_bytes == 1024


def test_inplace_is_refused_while_the_input_is_still_needed():
    g = fc_chain((512,), OpKind.LOGISTIC, extra_read=True)
    plan = plan_graph(g, plain(g, op1=Lowered("ops/logistic.j2", {"inplace_input": 0})))
    assert plan.inplace_ops == frozenset() and plan.shared == {}
    assert plan.offsets[2] != plan.offsets[1]


def test_scratch_is_planned_at_its_step_only():
    g = fc_chain((256,), OpKind.LOGISTIC)
    plan = plan_graph(g, plain(g, op0=Lowered("ops/fc.j2", {}, scratch_bytes=300)))
    off, size = plan.scratch[0]
    assert size == 304
    assert plan.live_bytes == (64 + 256 + 304, 512, 256 + 16)
    for t in (0, 1):  # tensors alive at step 0
        start, end = plan.offsets[t], plan.offsets[t] + _a16(g.tensor(t).nbytes)
        assert off + size <= start or end <= off
    assert plan.arena_bytes == 624 and plan.peak_step == 0


# ---- verifier ----


def _bad(plan: MemoryPlan, **changes) -> MemoryPlan:
    return dataclasses.replace(plan, **changes)


def test_verifier_rejects_broken_plans():
    g = fc_chain((1, 4, 4, 8), OpKind.RESHAPE)
    low = plain(g, op1=Lowered("ops/reshape.j2", {}, alias=True))
    plan = plan_graph(g, low)
    verify_plan(g, plan)
    cases = [
        (
            _bad(plan, offsets={**plan.offsets, 0: plan.offsets[1]}),
            "alive together and overlap",
        ),  # in vs FC out
        (_bad(plan, offsets={**plan.offsets, 2: plan.offsets[2] + 16}), "different offset"),  # alias moved
        (_bad(plan, offsets={**plan.offsets, 3: 8}), "misaligned"),
        (_bad(plan, order=(1, 0, 2)), "before it is written"),
        (_bad(plan, arena_bytes=plan.arena_bytes - 16), "outside"),
        (_bad(plan, alias_ops=frozenset()), "neither alias nor in-place"),
        (_bad(plan, scratch={2: (plan.offsets[2], 16)}), "scratch of op 2"),  # over the tensor op 2 reads
    ]
    for bad, why in cases:
        with pytest.raises(PlanError, match=why):
            verify_plan(g, bad)


def test_verifier_rejects_inplace_over_a_tensor_still_needed():
    g = fc_chain((512,), OpKind.LOGISTIC, extra_read=True)
    plan = plan_graph(g, plain(g))
    forged = _bad(
        plan,
        offsets={**plan.offsets, 2: plan.offsets[1]},
        shared={2: 1},
        inplace_ops=frozenset({1}),
    )
    with pytest.raises(PlanError, match="still needed"):
        verify_plan(g, forged)


# ---- analysis ----


def small_cnn() -> tuple[Graph, dict[int, Lowered]]:
    """conv 3x3 (3->4) -> depthwise 3x3 s2 -> reshape -> FC (64->10) -> softmax."""
    tensors = [
        act(0, (1, 8, 8, 3)),
        const(1, (4, 3, 3, 3)),
        const(2, (4,), DType.INT32),
        act(3, (1, 8, 8, 4)),
        const(4, (1, 3, 3, 4)),
        const(5, (4,), DType.INT32),
        act(6, (1, 4, 4, 4)),
        const(7, (2,), DType.INT32),
        act(8, (1, 64)),
        const(9, (10, 64)),
        const(10, (10,), DType.INT32),
        act(11, (1, 10)),
        act(12, (1, 10)),
    ]
    ops = [
        Operator(0, OpKind.CONV_2D, (0, 1, 2), (3,), Conv2DOptions(Padding.SAME, 1, 1)),
        Operator(1, OpKind.DEPTHWISE_CONV_2D, (3, 4, 5), (6,), DepthwiseConv2DOptions(Padding.SAME, 2, 2, 1)),
        Operator(2, OpKind.RESHAPE, (6, 7), (8,)),
        Operator(3, OpKind.FULLY_CONNECTED, (8, 9, 10), (11,)),
        Operator(4, OpKind.SOFTMAX, (11,), (12,)),
    ]
    g = Graph("small_cnn", tensors, ops, [0], [12])
    table = np.zeros(4, np.int32)
    from tinym2net.ops.base import ConstArray

    low = {
        0: Lowered(
            "ops/conv2d.j2",
            {},
            const_inputs=(1, 2),
            consts=[ConstArray("mult", "int32_t", table)],
            scratch_bytes=54,
        ),
        1: Lowered("ops/dw.j2", {}, const_inputs=(1, 2)),
        2: Lowered("ops/reshape.j2", {}, alias=True),
        3: Lowered("ops/fc.j2", {}, const_inputs=(1, 2)),
        4: Lowered("ops/softmax.j2", {}),
    }
    return g, low


def test_analysis_rows_and_totals():
    g, low = small_cnn()
    plan = plan_graph(g, low)
    a = analyze_graph(g, low, plan, ram_budget=256 * 1024)
    macs = [r.macs for r in a.rows]
    assert [r.op for r in a.rows] == ["CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert macs == [8 * 8 * 4 * 3 * 3 * 3, 4 * 4 * 4 * 3 * 3, 0, 64 * 10, 0]
    assert a.macs == 6912 + 576 + 640
    assert [r.weight_bytes for r in a.rows] == [108 + 16, 36 + 16, 0, 640 + 40, 0]
    assert a.weights_bytes == 124 + 52 + 680 and a.tables_bytes == 16
    assert [r.live_bytes for r in a.rows] == list(plan.live_bytes)
    assert a.rows[0].live_bytes == 192 + 256 + 64  # input + conv output + scratch (54 -> 64)
    assert a.rows[0].scratch_bytes == 64 and a.rows[2].alias
    assert a.rows[0].input_shapes == ((1, 8, 8, 3),) and a.rows[3].output_shapes == ((1, 10),)
    assert a.peak_bytes == max(plan.live_bytes) and a.arena_bytes == plan.arena_bytes
    assert a.ram_left == 256 * 1024 - plan.arena_bytes
    data = json.loads(json.dumps(a.to_json()))
    assert data["totals"]["macs"] == 8128 and len(data["rows"]) == 5
    assert data["rows"][1]["input_shapes"] == [[1, 8, 8, 4]]
    assert "CONV_2D" in a.format_table()


# ---- the MLPerf Tiny reference models ----

MLPERF = Path("/work/shared/benchmarks/mlperf_tiny")


@pytest.mark.parametrize("name", ["kws_ref_model", "pretrainedResnet_quant"])
def test_mlperf_models_go_below_the_op_by_op_bound(name):
    path = MLPERF / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    from tinym2net import ops  # noqa: F401
    from tinym2net.importer import load_tflite
    from tinym2net.ops.base import lower

    g = load_tflite(path)
    low = {op.index: lower(op, g) for op in g.operators}
    plan = plan_graph(g, low)
    verify_plan(g, plan)
    bound = max(
        sum(
            g.tensor(t).nbytes
            for t in {t for t in op.inputs + op.outputs if t >= 0 and not g.tensor(t).is_const}
        )
        for op in g.operators
    )
    assert plan.arena_bytes < bound  # in-place convolutions (and ADD) overlap inputs and outputs
    assert plan.arena_bytes == plan.lower_bound
    apart = plan_graph(g, low, inplace="none")  # every input kept apart from its output
    assert apart.arena_bytes >= bound and not apart.overlap_ops


def multi_branch_graph(branches: int, length: int, seed: int) -> Graph:
    """``branches`` chains of FC layers with random widths, joined by one concatenation."""
    rng = random.Random(seed)
    tensors: list[Tensor] = []
    ops: list[Operator] = []
    inputs, ends = [], []
    for _ in range(branches):
        prev = len(tensors)
        tensors.append(act(prev, (rng.randint(100, 2000),)))
        inputs.append(prev)
        for _ in range(length):
            t = len(tensors)
            tensors.append(act(t, (rng.randint(16, 4000),)))
            ops.append(Operator(len(ops), OpKind.FULLY_CONNECTED, (prev,), (t,)))
            prev = t
        ends.append(prev)
    out = len(tensors)
    tensors.append(act(out, (100,)))
    ops.append(Operator(len(ops), OpKind.CONCATENATION, tuple(ends), (out,)))
    return Graph("branches", tensors, ops, inputs, [out])


def test_multi_branch_student_arena_meets_its_peak():
    g = multi_branch_graph(3, 8, seed=0)
    plan = plan_graph(g, plain(g))
    assert plan.schedule_exact
    assert list(plan.live_bytes) == live_by_tensors(g, plan.order)
    assert plan.peak_bytes < plan.file_order_peak
    assert plan.arena_bytes == plan.peak_bytes == plan.lower_bound  # no fragmentation left
