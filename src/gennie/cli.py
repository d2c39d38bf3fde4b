"""The ``gennie`` command line: a thin layer over the Python API, generated from it.

Every stage of :data:`gennie.config.STAGES` becomes a command (``interpret motifs``,
``interpret ism`` under a group) whose flags are the fields of its configuration
model, as :func:`gennie.config.options.options` describes them: help, choices and
defaults come from the model, so a field added there is a flag here with no other
edit; the options the model marks advanced are listed under "Advanced options". Each
command takes ``--config FILE.yaml`` plus flags that override single fields, runs the
stage, prints its run folder, and with ``--json`` prints exactly one JSON object on
stdout. A user error prints one message and exits with code 2.

Ctrl+C (SIGINT) and SIGTERM, what schedulers and the GUI's Cancel send, stop a run
cleanly: its folder is marked ``cancelled``, helper processes are stopped, and the
command exits with code 130 after Ctrl+C and 143 after SIGTERM (128 + the signal's
number, as a shell reports a process killed by it).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from gennie.config import STAGES, Stage, build_config, class_name_from_file, load_run_config
from gennie.config.options import ADVANCED_PANEL, Option, options
from gennie.errors import UserError
from gennie.processes import Terminated, exit_code, stop_on_sigterm
from gennie.version import VERSION

app = typer.Typer(
    name="gennie",
    help="Build, train, evaluate and interpret neural networks on genomic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML configuration; flags override its fields.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

USAGE = {
    "paths": "Repeat for several.",
    "lines": "Repeat for several.",
    "list": "Comma-separated.",
    "branches": "Comma-separated.",
    "classes": "NAME=FILE or FILE (named after the file), repeat per class.",
    "numbers": "NAME=VALUE, repeat per name.",
    "chromosomes": "SPLIT=chr1,chr2, repeat per split.",
}
"""How a value of each kind is written on the command line."""

FLAG_TYPES: dict[str, Any] = {
    "bool": bool | None,
    "int": int | None,
    "float": float | None,
    "path": Path | None,
    "paths": list[Path] | None,
}
"""The parsed type of each kind's flag (others: one text, or repeated texts)."""


# --------------------------------------------------------------------------- flags


def flag_help(option: Option) -> str:
    """A flag's help: the field's description, how to write it, choices, default."""
    parts = [option.help, USAGE.get(option.kind, "")]
    if option.kind in ("choice", "branches") and option.choices:
        parts.append(f"One of: {', '.join(map(str, option.choices))}.")
    default = option.default
    if default not in (None, [], {}, ""):
        if isinstance(default, bool):
            default = "yes" if default else "no"
        elif isinstance(default, list):
            default = ",".join(map(str, default))
        parts.append(f"(default: {default})")
    return " ".join(p for p in parts if p)


def _flag_parameter(option: Option, flag: str) -> inspect.Parameter:
    """The typer parameter of one option (an advanced one under its own heading)."""
    decl = f"--{flag}/--no-{flag}" if option.kind == "bool" else f"--{flag}"
    kind = FLAG_TYPES.get(option.kind, list[str] | None if option.repeated else str | None)
    panel = ADVANCED_PANEL if option.advanced else None
    annotation = Annotated[kind, typer.Option(decl, help=flag_help(option), rich_help_panel=panel)]
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


EXAMPLES = {"classes": "bound=peaks.bed", "numbers": "bound=5000", "chromosomes": "test=chr1,chr2"}
"""An example value of each NAME=VALUE kind, for hints."""


def _pairs(values: list[str], flag: str, kind: str, split_values: bool = False) -> dict[str, Any]:
    """Parse repeated NAME=VALUE flags."""
    result: dict[str, Any] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UserError(
                f"'{item}' is not NAME=VALUE",
                field=flag.lstrip("-"),
                hint=f"write e.g. {flag} {EXAMPLES[kind]}",
            )
        if name.strip() in result:
            raise UserError(
                f"'{name.strip()}' is given twice",
                field=flag.lstrip("-"),
                hint=f"give each name once with {flag}",
            )
        result[name.strip()] = (
            [v.strip() for v in value.split(",") if v.strip()] if split_values else value.strip()
        )
    return result


def _number(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(
            f"'{text}' is not a number",
            field=field,
            hint="write a count (5000) or a ratio (0.5)",
        ) from None


def flag_value(option: Option, flag: str, raw: Any) -> Any:
    """The configuration value of a flag as typed (``None``: not given)."""
    if raw is None or raw == []:
        return None
    if option.kind in ("list", "branches"):
        return [v.strip() for v in raw.split(",") if v.strip()]
    if option.kind == "classes":
        named = [v if "=" in v else f"{class_name_from_file(v)}={v}" for v in raw]
        return _pairs(named, f"--{flag}", option.kind)
    if option.kind == "numbers":
        pairs = _pairs(raw, f"--{flag}", option.kind)
        return {k: _number(v, option.name) for k, v in pairs.items()}
    if option.kind == "chromosomes":
        return _pairs(raw, f"--{flag}", option.kind, split_values=True)
    return list(raw) if option.repeated else raw


# --------------------------------------------------------------------------- commands


def stage_command(stage: Stage) -> Callable[..., None]:
    """The CLI command of a stage: one flag per configuration field (see the module
    docstring), plus ``--config`` and ``--json``."""
    flagged = [
        (opt, stage.flags.get(opt.name, opt.flag)) for opt in options(stage.config) if opt.cli
    ]

    def command(config: Path | None = None, as_json: bool = False, **flags: Any) -> None:
        def work() -> Any:
            overrides = {}
            for opt, flag in flagged:
                value = flag_value(opt, flag, flags.get(opt.name))
                if value is not None:
                    overrides[opt.name] = value
            return stage.run(build_config(stage.config, config, overrides))

        execute(stage.name, work, as_json)

    parameters = [
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=ConfigOpt),
        *(_flag_parameter(opt, flag) for opt, flag in flagged),
        inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, annotation=JsonOpt),
    ]
    parameters = [p.replace(default=False if p.name == "as_json" else None) for p in parameters]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = stage.summary
    command.__name__ = stage.name
    return command


def yaml_only(stage: Stage) -> str:
    """The help text's note on the fields that have no flag (nested sections)."""
    names = [opt.name for opt in options(stage.config) if not opt.cli]
    return f"YAML only (give them with --config): {', '.join(names)}." if names else ""


def add_stage_commands(root: typer.Typer, stages: dict[str, Stage]) -> None:
    """Add one command per stage to ``root``; multi-word commands go into sub-groups."""
    groups: dict[str, typer.Typer] = {}
    for stage in stages.values():
        *group_words, name = stage.command
        target = root
        for word in group_words:
            if word not in groups:
                groups[word] = typer.Typer(
                    help="Filter motifs and in-silico mutagenesis of a trained model.",
                    no_args_is_help=True,
                )
                root.add_typer(groups[word], name=word)
            target = groups[word]
        target.command(name, epilog=yaml_only(stage) or None)(stage_command(stage))


# --------------------------------------------------------------------------- running


def execute(stage: str, work: Callable[[], Any], as_json: bool) -> None:
    """Run a stage, print the run folder (or JSON), map user errors to exit code 2 and
    Ctrl+C / SIGTERM to 130 / 143 (see the module docstring)."""
    _setup_logging()
    real_stdout = sys.stdout
    try:
        # In --json mode everything else (progress bars, library chatter) goes to stderr.
        with (
            stop_on_sigterm(),
            contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext(),
        ):
            result = work()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        if as_json:
            real_stdout.write(json.dumps(exc.to_dict()) + "\n")
        raise typer.Exit(2) from None
    except KeyboardInterrupt as exc:
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl+C"
        typer.echo(f"cancelled ({how})", err=True)
        if as_json:
            real_stdout.write(json.dumps({"error": f"cancelled ({how})", "cancelled": True}) + "\n")
        raise typer.Exit(exit_code(exc)) from None
    summary = result.summary
    if as_json:
        payload: dict[str, Any] = {"run_dir": str(result.run_dir), "stage": result.stage or stage}
        payload.update(summary)
        real_stdout.write(json.dumps(payload, default=str) + "\n")
        return
    message = getattr(result, "message", "")
    if message and sys.stderr.isatty():  # without a terminal it was logged already
        typer.echo(message, err=True)
    metrics = summary.get("metrics")
    if metrics:
        typer.echo(
            f"accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
            f"AUROC {_fmt(metrics['auroc'])}  AUPRC {_fmt(metrics['auprc'])}" + _minority(metrics),
            err=True,
        )
    typer.echo(str(result.run_dir))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _minority(metrics: dict[str, Any]) -> str:
    """The smallest class's own AUPRC and AUROC, beside the macro averages."""
    minority = metrics.get("minority")
    if not minority:
        return ""
    name = minority["class"]
    return (
        f"  AUPRC(minority {name}) {_fmt(minority['auprc'])}"
        f"  AUROC(minority {name}) {_fmt(minority['auroc'])}"
    )


class StderrHandler(logging.StreamHandler):
    """Log records to whatever ``sys.stderr`` is when they are written, so that a
    command called in-process (tests, notebooks) never writes to a stream that an
    earlier call replaced and closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging() -> None:
    log = logging.getLogger("gennie")
    handler = next((h for h in log.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        log.addHandler(handler)
    # Without a terminal (nohup, a cluster job, the GUI's worker) there is no progress
    # bar: the progress lines (one per epoch, per step of work) go to stderr instead.
    handler.setLevel(logging.WARNING if sys.stderr.isatty() else logging.INFO)
    log.setLevel(logging.INFO)


def run_config(config: Any) -> Any:
    """Run any stage from its configuration (the dispatch behind ``gennie run``)."""
    return STAGES[config.stage].run(config)


add_stage_commands(app, STAGES)

OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder of the new run.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Name of the new run folder.")]


@app.command("run")
def run_parameters(
    parameters: Annotated[Path, typer.Argument(help="A run's parameters.yaml.")],
    out: OutOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Repeat a run from its parameters.yaml (same seed, same results), in a new folder."""

    def work():
        config = load_run_config(parameters)
        config = config.model_copy(update={"name": name})
        if out is not None:
            config = config.model_copy(update={"out": out.resolve()})
        return run_config(config)

    execute("run", work, as_json)


@app.command()
def presets() -> None:
    """List the architecture presets."""
    from gennie.config.presets import PRESET_DESCRIPTIONS

    for preset_name, text in PRESET_DESCRIPTIONS.items():
        typer.echo(f"{preset_name:20s} {text}")


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("gennie-quickstart"),
    example: Annotated[
        str, typer.Option(help="rbp (real PUM2 CLIP sites, FASTA) or bed (generated genome, BED).")
    ] = "rbp",
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 20,
    branches: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated input branches (default: seq for rbp; seq,fold,cons for "
            "bed, whose genome comes with a conservation track)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Preprocess → train → evaluate → predict on the bundled example data."""
    from gennie.quickstart import run_quickstart

    chosen = None if branches is None else [b.strip() for b in branches.split(",") if b.strip()]
    execute("quickstart", lambda: run_quickstart(out, example, epochs, chosen), as_json)


@app.command()
def gui(
    host: Annotated[
        str, typer.Option(help="Address to serve on; 127.0.0.1 keeps the GUI on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8501,
    workspace: Annotated[
        Path,
        typer.Option(
            help="Folder the GUI works in: relative paths, uploads, runs and the job queue."
        ),
    ] = Path("."),
) -> None:
    """Open the browser GUI (Streamlit) for the whole pipeline."""
    from gennie.gui import streamlit_command
    from gennie.processes import restore_signals

    folder = workspace.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        typer.echo(f"error: {folder}: the workspace must be a folder", err=True)
        raise typer.Exit(2)
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GENNIE_WORKSPACE": str(folder)}
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    typer.echo(f"gennie GUI: http://{shown}:{port}  (workspace {folder}; Ctrl+C stops it)")
    sys.stdout.flush()
    # Become the Streamlit server, so that stopping this process stops the server.
    command = streamlit_command(host, port)
    os.chdir(folder)
    restore_signals()  # Ctrl+C and kill stop it even if this process inherited them ignored
    os.execve(command[0], command, env)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gennie {VERSION}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """gennie: neural networks for genomic intervals and sequences."""


def main() -> None:
    """Console-script entry point.

    Usage errors found by the argument parser (an unknown flag, a flag of the wrong
    type) exit with code 2 like every user error, and with ``--json`` also print one
    JSON object on stdout. Ctrl+C exits with 130, SIGTERM with 143.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort as exc:
        typer.echo("cancelled", err=True)
        sys.exit(exit_code(exc.__cause__ or exc))
    except Exception as exc:
        # The parser's usage errors (typer's bundled click) carry these attributes.
        if not all(hasattr(exc, a) for a in ("format_message", "exit_code", "show")):
            raise
        try:
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
        except Exception:  # plain output when rich formatting is unavailable
            exc.show()
        if "--json" in sys.argv:
            param = getattr(exc, "param", None)
            error = UserError(exc.format_message(), field=getattr(param, "name", None))
            sys.stdout.write(json.dumps(error.to_dict()) + "\n")
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)  # typer.Exit inside a command comes back as a return code


__all__ = ["app", "main", "run_config"]
