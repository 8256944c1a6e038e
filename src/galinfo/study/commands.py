"""CLI: ``galinfo study`` and ``galinfo quickstart``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable


def _print_plan(study) -> None:
    from galinfo.study.plan import assumptions, gpu_hours

    console = Console()
    table = RichTable(title=f"plan of study '{study.cfg.name}' ({len(study.steps)} steps)")
    for col in ("#", "step", "kind", "device", "est. time"):
        table.add_column(col, justify="right" if col in ("#", "est. time") else "left")
    for i, s in enumerate(study.steps, 1):
        t = s.cost_s
        est = f"{t / 3600:.2f} h" if t >= 3600 else f"{t / 60:.1f} min" if t >= 60 else f"{t:.0f} s"
        table.add_row(str(i), s.name, s.kind, s.device, est)
    console.print(table)
    n_models = sum(s.kind == "model" for s in study.steps)
    n_amortised = sum(s.kind == "model" and bool(s.params.get("amortised")) for s in study.steps)
    n_subsets = sum(s.kind == "subset" for s in study.steps)
    cpu_h = sum(s.cost_s for s in study.steps if s.device == "cpu") / 3600
    console.print(f"{n_models} models trained ({n_amortised} amortised, predicting {n_subsets} input sets; "
                  f"pid.models: {study.cfg.pid_models}); estimated GPU-hours: {gpu_hours(study.steps):.1f} "
                  f"(one H200-class GPU, bf16); CPU-hours: {cpu_h:.2f}")
    console.print("the estimate assumes these training throughputs:")
    for line in assumptions(study.steps, study.cfg):
        console.print(f"  {line}")


def study_cmd(
    config: Annotated[Path | None, typer.Argument(help="Study YAML (or use --preset).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder (rerunning skips finished steps).")] = Path("runs/study"),
    preset: Annotated[str | None, typer.Option(help="A shipped preset: quickstart, na10 or paper.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan with estimated cost; run nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    markdown: Annotated[Path | None, typer.Option(help="Also write the results as Markdown tables here.")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Replace the study's seed and its dataset's seed (a new mock realisation).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Run independent steps on N local worker processes.")] = 1,
    dask: Annotated[str | None, typer.Option("--dask", help="Run the steps on the Dask scheduler at ADDRESS "
                                             "(workers share OUT's file system; GPU steps need a worker with "
                                             "resource GPU=1).")] = None,
) -> None:
    """Run a whole study: dataset, models, KNN, causal tests, decompositions, report."""
    from galinfo.errors import ConfigError
    from galinfo.study.config import load_config, load_preset
    from galinfo.study.runner import Study

    if (config is None) == (preset is None):
        raise ConfigError("give either a study CONFIG file or --preset NAME")
    cfg = load_preset(preset) if preset else load_config(config)
    if seed is not None:
        cfg = cfg.with_seed(seed)
    study = Study(cfg, out, progress=not quiet, jobs=jobs, dask_address=dask)
    if dry_run:
        _print_plan(study)
        return
    study.run()
    Console().print(f"report: {out / 'report.html'}  results: {out / 'results.json'}")
    if markdown is not None:
        import json

        from galinfo.report.html import write_text_atomic
        from galinfo.study.report import results_markdown

        command = f"galinfo study {'--preset ' + preset if preset else config} --out {out}"
        results = json.loads((out / "results.json").read_text())
        write_text_atomic(markdown, results_markdown(results, f"Results of the study '{cfg.name}'", command))
        Console().print(f"markdown: {markdown}")


def quickstart_cmd(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/quickstart"),
    seed: Annotated[int, typer.Option(help="Seed of the mock and of every model.")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Local worker processes (results do not depend on it).")] = 2,
) -> None:
    """The quickstart study: a 10k mock, amortised information models, the paper's tuples, causal
    tests against the mock's truth, the report (about 15 minutes on 2 cores)."""
    study_cmd(None, out=out, preset="quickstart", dry_run=False, quiet=False, markdown=None, seed=seed, jobs=jobs)


def register(app: typer.Typer) -> None:
    app.command("study")(study_cmd)
    app.command("quickstart")(quickstart_cmd)
