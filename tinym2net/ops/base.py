"""Op registry: how each IR operator becomes a kernel call in the generated C.

Every supported :class:`~tinym2net.ir.OpKind` has one *lowering* registered with :func:`register`.
A lowering is a pure function ``(op, graph) -> Lowered`` that computes everything the kernel
needs at build time (fixed-point multipliers, shapes, clamps) and names the Jinja template that
renders it. The template file (``templates/ops/<name>.j2``) defines two macros:

``decl(op)``
    file-scope declarations (``static const`` parameter structs, extra constant arrays);
``call(op)``
    the statement(s) inside ``tm2_model_invoke`` that run the kernel.

Both receive an :class:`OpContext`. Code generation dispatches on ``op.kind`` through
:data:`LOWERINGS`; nothing looks at layer names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from ..ir import Graph, Operator, OpKind


@dataclass(frozen=True)
class ConstArray:
    """An extra constant array an op needs in flash (per-channel multipliers, shifts, tables)."""

    role: str  # key under which the template finds its C name, e.g. "mult"
    ctype: str  # "int32_t", "int8_t", "float", ...
    values: np.ndarray
    # True for a model weight stored in another form than its tensor (e.g. an int4 layer's int32 bias kept as
    # int16): counted in the weights' bytes, not in the per-op tables' bytes.
    weights: bool = False


@dataclass
class Lowered:
    template: str  # e.g. "ops/conv2d.j2"
    params: dict[str, Any]  # scalars / small lists for the template
    const_inputs: tuple[int, ...] = ()  # positions in op.inputs whose constant tensors are emitted as arrays
    consts: list[ConstArray] = field(default_factory=list)
    scratch_bytes: int = 0  # per-op scratch buffer needed at run time (planned in the arena)
    alias: bool = False  # output is the input's bytes unchanged (RESHAPE/SQUEEZE): planner may share storage


@dataclass
class OpContext:
    """What a template macro sees for one operator."""

    id: str  # C identifier prefix, unique per op, e.g. "op7"
    index: int
    kind: str
    inputs: list[str | None]  # C pointer expressions (arena slices or const array names); None if omitted
    outputs: list[str]
    consts: dict[str, str]  # role -> C name of each ConstArray
    params: dict[str, Any]
    scratch: str | None  # C pointer expression of the scratch buffer, or None


Lowering = Callable[[Operator, Graph], Lowered]
LOWERINGS: dict[OpKind, Lowering] = {}


def register(*kinds: OpKind) -> Callable[[Lowering], Lowering]:
    def deco(fn: Lowering) -> Lowering:
        for kind in kinds:
            if kind in LOWERINGS:
                raise RuntimeError(f"two lowerings registered for {kind}")
            LOWERINGS[kind] = fn
        return fn

    return deco


def lower(op: Operator, graph: Graph) -> Lowered:
    try:
        fn = LOWERINGS[op.kind]
    except KeyError:
        raise UnsupportedOpError(
            f"operator {op.index} ({op.kind.value}) has no kernel in tinym2net; supported: "
            + ", ".join(sorted(k.value for k in LOWERINGS))
        ) from None
    return fn(op, graph)
