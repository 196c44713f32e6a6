"""Command line: subcommands follow the pipeline stages (train -> quantize -> compile -> check / build).

Every user-facing failure is one line on stderr and a non-zero exit (2 for usage errors); ``--debug``
shows the traceback. Outputs go only where ``--out`` says.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import traceback
from pathlib import Path

import click

from . import __version__
from .errors import TinyM2NetError
from .models import DEFAULT_WEIGHT_BUDGET

_DEBUG = False


def _echo_progress(quiet: bool):
    def progress(msg: str) -> None:
        if not quiet:
            click.echo(f"[tinym2net] {msg}", err=True)

    return progress


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinym2net")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """tinym2net: multimodal TinyML students -> int8 C -> PlatformIO firmware, verified in an emulator."""
    global _DEBUG
    _DEBUG = debug


_RAM_BUDGET_HELP = "RAM bytes the firmware may use (default: the board's SRAM)."
_FLASH_BUDGET_HELP = "Flash bytes the firmware may use (default: the board's flash)."
_STACK_HELP = "Size of the firmware's stack section in bytes (default 8192)."


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_name", default="nano33", show_default=True, help="Board name (see boards/).")
@click.option("--inputs", "n_inputs", default=8, show_default=True, type=click.IntRange(1, 100000), help="Random inputs to compare.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--keep", type=click.Path(path_type=Path), default=None, help="Keep the work folder (artifact, project, run) here.")
@click.option("--ram-budget", type=click.IntRange(1), default=None, help=_RAM_BUDGET_HELP)
@click.option("--flash-budget", type=click.IntRange(1), default=None, help=_FLASH_BUDGET_HELP)
@click.option("--stack-bytes", type=click.IntRange(256), default=None, help=_STACK_HELP)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True, help="Seconds the emulator may run.")
def check(
    model: Path, board_name: str, n_inputs: int, seed: int, as_json: bool, keep: Path | None,
    ram_budget: int | None, flash_budget: int | None, stack_bytes: int | None, timeout_s: float,
) -> None:
    """Compile MODEL, build it, run random inputs in the emulator and compare with the TFLite reference."""
    from .boards import load_board
    from .verify import check_model

    board = load_board(board_name)
    _read_model(model)
    res = check_model(
        model, board, inputs=n_inputs, seed=seed, keep_dir=keep, progress=_echo_progress(as_json),
        ram_budget=ram_budget, flash_budget=flash_budget, stack_bytes=stack_bytes, timeout_s=timeout_s,
        count=True,
    )
    if as_json:
        click.echo(json.dumps(res.to_json(), sort_keys=True))
    else:
        status = "bit-exact" if res.bit_exact else f"MISMATCH ({res.mismatched_bytes} bytes differ)"
        click.echo(f"{Path(res.model).name} on {res.board}: {status} over {res.inputs_compared} inputs")
        click.echo(f"  arena {res.arena_bytes} B, RAM {res.ram_bytes} B, flash {res.flash_bytes} B, weights {res.weights_bytes} B")
        if res.stack_bytes:
            click.echo(f"  stack used {res.stack_bytes} of {res.extra.get('stack_size_bytes', 0)} B")
        if res.first_mismatch:
            m = res.first_mismatch
            click.echo(f"  first differing layer: operator {m['operator']} ({m['op']}) -> {m['output_tensor']}")
    sys.exit(0 if res.bit_exact else 1)


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_name", default="nano33", show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder (artifact + project).")
@click.option("--force", is_flag=True, help="Replace an output folder that holds files tinym2net did not write.")
@click.option("--ram-budget", type=click.IntRange(1), default=None, help=_RAM_BUDGET_HELP)
@click.option("--flash-budget", type=click.IntRange(1), default=None, help=_FLASH_BUDGET_HELP)
@click.option("--stack-bytes", type=click.IntRange(256), default=None, help=_STACK_HELP)
def compile(  # noqa: A001
    model: Path, board_name: str, out_dir: Path, force: bool,
    ram_budget: int | None, flash_budget: int | None, stack_bytes: int | None,
) -> None:
    """Compile MODEL into OUT/model (C sources + metadata.json) and OUT/project (PlatformIO)."""
    from .artifact import write_artifact
    from .boards import load_board
    from .compiler import compile_graph
    from .fsutil import atomic_output_dir, check_writable_output
    from .importer import parse_tflite
    from .project import DEFAULT_STACK_BYTES, generate_project
    from .reference import random_inputs, run_litert
    from .verify import check_plan_budget, resolve_budget

    board = load_board(board_name)
    check_writable_output(out_dir.resolve(), force=force)
    data = _read_model(model)
    graph = parse_tflite(data, name=model.stem)
    compiled = compile_graph(graph, data)
    stack = stack_bytes if stack_bytes is not None else DEFAULT_STACK_BYTES
    check_plan_budget(compiled, resolve_budget(board, ram_budget, flash_budget), stack_bytes=stack)
    samples = random_inputs(graph, 4, seed=0)
    expected = run_litert(data, graph, samples)
    with atomic_output_dir(out_dir, force=force) as tmp:
        write_artifact(compiled, tmp / "model", model_name=model.stem, board=board.name, samples=samples, expected=expected)
        generate_project(tmp / "model", board, tmp / "project", stack_bytes=stack_bytes)
    click.echo(f"wrote {out_dir}/model (arena {compiled.arena_bytes} B, weights {compiled.weights_bytes} B) and {out_dir}/project")


@cli.command()
@click.option("--board", "board_name", default="nano33", show_default=True)
@click.option("--demo", type=click.Choice(["posture", "avdigits"]), default="posture", show_default=True, help="Built-in demo data.")
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Your data: a CSV manifest (docs/data_manifest.md).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Output folder (default: a new temporary folder, printed).")
@click.option("--epochs", type=click.IntRange(1, 10000), default=None, help="Student epochs (default: the demo's setting).")
@click.option("--quick", is_flag=True, help="Small data and few epochs (CI).")
@click.option("--ablations", is_flag=True, help="Also train the fused student alone and with KD only, to compare (longer).")
@click.option("--weight-budget", type=click.IntRange(64), default=DEFAULT_WEIGHT_BUDGET, show_default=True, help="Student size: int8 weight + int32 bias bytes its width is sized to.")
@click.option("--seed", default=0, show_default=True)
@click.option("--ram-budget", type=click.IntRange(1), default=None, help="RAM bytes the model may use (default: the board's SRAM).")
@click.option("--flash-budget", type=click.IntRange(1), default=None, help="Flash bytes the model may use (default: the board's flash).")
@click.option("--force", is_flag=True, help="Replace an output folder that holds files tinym2net did not write.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr (errors still get one line).")
def build(
    board_name: str, demo: str, data: Path | None, out_dir: Path | None, epochs: int | None, quick: bool,
    ablations: bool, weight_budget: int, seed: int, ram_budget: int | None, flash_budget: int | None, force: bool,
    quiet: bool,
) -> None:
    """The main job: data -> teacher -> distilled student -> int8 -> C -> firmware -> emulator, verified."""
    from .pipeline import run_build

    run_build(
        board_name=board_name, out_dir=out_dir, force=force, seed=seed, demo=demo, data=data, epochs=epochs,
        quick=quick, ablations=ablations, weight_budget=weight_budget, ram_budget=ram_budget, flash_budget=flash_budget,
        progress=_echo_progress(quiet),
    )


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_name", default="nano33", show_default=True)
@click.option("--ram-budget", type=click.IntRange(1), default=None, help="RAM bytes the model may use (default: the board's SRAM).")
@click.option("--flash-budget", type=click.IntRange(1), default=None, help="Flash bytes the model may use (default: the board's flash).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
def analyze(model: Path, board_name: str, ram_budget: int | None, flash_budget: int | None, as_json: bool) -> None:
    """Per-layer table (op, shapes, MACs, weights, live bytes, scratch), peak and totals against the budget.

    The firmware is built (not run) so that RAM and flash are the linked image's exact figures.
    """
    from .analysis import analyze_graph
    from .boards import load_board
    from .compiler import compile_graph
    from .importer import parse_tflite
    from .verify import build_firmware

    board = load_board(board_name)
    data = _read_model(model)
    graph = parse_tflite(data, name=model.stem)
    compiled = compile_graph(graph, data)
    ram_cap = ram_budget if ram_budget is not None else board.sram_bytes
    flash_cap = flash_budget if flash_budget is not None else board.flash_bytes
    an = analyze_graph(graph, compiled.lowered, compiled.plan, ram_budget=ram_cap, flash_budget=flash_cap)
    build = build_firmware(compiled, board, model_name=model.stem, progress=_echo_progress(as_json))
    if as_json:
        obj = an.to_json()
        obj.update(
            {
                "model": str(model),
                "board": board.name,
                "arena_bytes": an.arena_bytes,
                "weights_bytes": an.weights_bytes,
                "macs": an.macs,
                "ram_bytes": build.ram_bytes,
                "flash_bytes": build.flash_bytes,
                "ram_budget": ram_cap,
                "flash_budget": flash_cap,
                "fits": build.ram_bytes <= ram_cap and build.flash_bytes <= flash_cap,
                "layers": obj.pop("rows"),
            }
        )
        click.echo(json.dumps(obj, sort_keys=True))
        return
    click.echo(f"{model.name} on {board.name} ({board.title})")
    click.echo(an.format_table())
    click.echo("")
    for label, used, cap in (("RAM", build.ram_bytes, ram_cap), ("flash", build.flash_bytes, flash_cap)):
        state = "fits" if used <= cap else f"OVER by {used - cap:,} B"
        click.echo(f"{label:<6} {used:>10,} B of {cap:>10,} B ({100 * used / cap:5.1f}%)  {state}   (linked image, stack included)")


@cli.command()
@click.option("--demo", type=click.Choice(["posture", "avdigits"]), default="posture", show_default=True)
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Your data: a CSV manifest (docs/data_manifest.md).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--epochs", type=click.IntRange(1, 10000), default=None)
@click.option("--quick", is_flag=True)
@click.option("--ablations", is_flag=True, help="Also train the fused student alone and with KD only, to compare (longer).")
@click.option("--weight-budget", type=click.IntRange(64), default=DEFAULT_WEIGHT_BUDGET, show_default=True, help="Student size: int8 weight + int32 bias bytes its width is sized to.")
@click.option("--seed", default=0, show_default=True)
@click.option("--force", is_flag=True)
def train(
    demo: str, data: Path | None, out_dir: Path, epochs: int | None, quick: bool, ablations: bool, weight_budget: int,
    seed: int, force: bool,
) -> None:
    """Train teacher and students (KD + attention transfer); write student.keras, model.tflite (int8), a report."""
    from .stages import run_train

    rep = run_train(demo=demo, data=data, out_dir=out_dir, epochs=epochs, quick=quick, ablations=ablations,
                    weight_budget=weight_budget, seed=seed, force=force, progress=_echo_progress(False))
    click.echo(f"wrote {out_dir}: student int8 accuracy {100 * rep['student_int8_accuracy']:.2f} % on {rep['demo']}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--demo", type=click.Choice(["posture", "avdigits"]), default="posture", show_default=True, help="Representative/test data.")
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Your data: a CSV manifest.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output .tflite file.")
@click.option("--bits", type=click.Choice(["8", "4", "auto"]), default="8", show_default=True, help="Weight bits (auto: per layer against --flash-budget).")
@click.option("--flash-budget", type=click.IntRange(1), default=None)
@click.option("--seed", default=0, show_default=True)
@click.option("--quick", is_flag=True)
def quantize(model: Path, demo: str, data: Path | None, out: Path, bits: str, flash_budget: int | None, seed: int, quick: bool) -> None:
    """Quantise a Keras MODEL (.keras) to a full-integer .tflite with a representative dataset."""
    from .stages import run_quantize

    rep = run_quantize(model=model, demo=demo, data=data, out=out, bits=bits, flash_budget=flash_budget, seed=seed, quick=quick, progress=_echo_progress(False))
    click.echo(f"wrote {out} ({rep['tflite_bytes']} B): accuracy {100 * rep['int8_accuracy']:.2f} % (LiteRT reference kernels)")


def _read_model(path: Path) -> bytes:
    from .errors import ModelError

    if not path.exists():
        raise ModelError(f"model file {path} does not exist; give the path of a .tflite file")
    if path.is_dir():
        raise ModelError(f"{path} is a folder; give the path of a .tflite file")
    return path.read_bytes()


class Terminated(KeyboardInterrupt):
    """SIGTERM / SIGHUP, raised in the main thread so that ``finally`` blocks clean up temporary output."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame) -> None:  # noqa: ARG001
    # Later signals are ignored so that the clean-up this one starts can finish.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def _install_signal_handlers() -> dict[int, object]:
    """Turn SIGTERM / SIGHUP into :class:`Terminated` (where nobody else handles them); returns the old handlers."""
    old: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return old  # signal handlers can only be set from the main thread
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            old[sig] = signal.signal(sig, _raise_terminated)
    return old


def _one_line(text: str) -> str:
    """Messages are one line: newlines (from tools' output or exception text) become spaces."""
    return re.sub(r"\s*\n\s*", " ", str(text).strip())


# click >= 8.2 raises this for a group called without a command (older versions print help themselves).
_NO_ARGS_IS_HELP: type[Exception] = getattr(click.exceptions, "NoArgsIsHelpError", type("_Never", (Exception,), {}))


def _fail(message: str, exit_code: int) -> None:
    click.echo(f"tinym2net: {_one_line(message)}", err=True)
    sys.exit(exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns every failure into one stderr line and an exit status.

    Exit status: 0 success, 1 a problem with the inputs or tools (TinyM2NetError), 2 usage errors,
    70 an internal error (a bug), 128 + N when stopped by signal N (130 for Ctrl-C).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    old_handlers = _install_signal_handlers()
    try:
        _run(args)
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _run(args: list[str]) -> None:
    try:
        try:
            with cli.make_context("tinym2net", args) as ctx:
                cli.invoke(ctx)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except _NO_ARGS_IS_HELP as e:  # bare `tinym2net` / `tinym2net <group>`: the help text, on stdout
        click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
        sys.exit(2)
    except click.ClickException as e:
        _fail(f"error: {e.format_message()} (see tinym2net --help)", 2)
    except TinyM2NetError as e:
        if _DEBUG:
            traceback.print_exc()
        _fail(f"error: {e}", e.exit_code)
    except KeyboardInterrupt as e:
        if _DEBUG:
            traceback.print_exc()
        signum = e.signum if isinstance(e, Terminated) else signal.SIGINT
        _fail(f"stopped by signal {signal.Signals(signum).name}; no partial output was left", 128 + signum)
    except OSError as e:
        if _DEBUG:
            traceback.print_exc()
        where = f" {e.filename}" if e.filename else ""
        _fail(f"error: cannot access{where}: {e.strerror or e}; check the path, its permissions and free disk space", 1)
    except Exception as e:  # a bug: still one line unless --debug
        if _DEBUG:
            traceback.print_exc()
        _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug and report it)", 70)


if __name__ == "__main__":
    main()
