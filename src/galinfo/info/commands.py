"""CLI: ``galinfo pid`` (pointwise partial information decomposition of one tuple)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def pid_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder (catalog.fits + manifest.json).")],
    tuple_: Annotated[str, typer.Option("--tuple", help="Two input sets, e.g. 'M_ugriz,Morph'.")],
    out: Annotated[Path, typer.Option(help="Output folder for the table, summaries and figures.")],
    runs: Annotated[
        list[str] | None,
        typer.Option(help="Run folders of source 1, source 2 and the union: RUN1,RUN2,RUN12. Repeat it, once "
                          "per model realisation, for the mean ± spread across realisations."),
    ] = None,
    estimate: Annotated[
        bool,
        typer.Option("--estimate", help="Fit estimate_pointwise_mi on catalogue features instead of runs."),
    ] = False,
    prior: Annotated[
        str | None,
        typer.Option(help="Target prior: 'full' or 'train' (default: full for --runs as in the paper; "
                          "train, i.e. the training folds, for --estimate)."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(help="Galaxies to report: test, val, train, heldout, all (default: test for --runs, all for --estimate)."),
    ] = None,
    measure: Annotated[str, typer.Option(help="Pointwise PID rule: mmi_pointwise or ccs_pointwise.")] = "mmi_pointwise",
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    ci: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    min_count: Annotated[int, typer.Option(help="Bins with fewer galaxies are cut from binned values.")] = 50,
    folds: Annotated[int, typer.Option(help="K of the K-fold cross-fitting (--estimate).")] = 5,
    max_epochs: Annotated[int, typer.Option(help="Epoch limit of each classifier fit (--estimate).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of folds, networks and bootstrap.")] = 0,
) -> None:
    """Pointwise MI of two sources and their union, split into red/unq1/unq2/syn per galaxy (nats)."""
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from galinfo.info.pipeline import run_pid
    from galinfo.info.tuples import TupleSpec

    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])
    spec = TupleSpec.parse(tuple_)
    run_lists = [[r.strip() for r in one.split(",")] for one in runs or []]
    console = Console()
    if len(run_lists) > 1:
        _pid_realisations(dataset, spec, out, run_lists, console, estimate=estimate, prior=prior, split=split,
                          measure=measure, n_boot=n_boot, ci=ci, min_count=min_count, seed=seed)
        return
    files = run_pid(
        dataset, spec, out, runs=run_lists[0] if run_lists else None, estimate=estimate, prior=prior, split=split,
        measure=measure, n_boot=n_boot, ci=ci, min_count=min_count, seed=seed,
        estimate_kwargs={"n_folds": folds, "max_epochs": max_epochs, "progress": True},
    )
    from astropy.table import Table

    summary = Table.read(files["summary"])
    console.print(f"[bold]{spec.label}[/] -> {out}  (nats, {ci:.0%} bootstrap intervals)")
    for row in summary:
        parts = "  ".join(
            f"{a} {row[a]:+.3f} [{row[a + '_lo']:+.3f}, {row[a + '_hi']:+.3f}]"
            for a in ("i12", "red", "unq1", "unq2", "syn")
        )
        console.print(f"  {row['group']:<8} n={row['n']:<7d} {parts}", highlight=False)


def _pid_realisations(dataset, spec, out, run_lists, console, *, estimate=False, **kwargs) -> None:
    from galinfo.errors import ConfigError
    from galinfo.info.pipeline import run_pid_realisations

    if estimate:
        raise ConfigError("give either --runs or --estimate (exactly one)")
    files = run_pid_realisations(dataset, spec, out, run_lists, **kwargs)
    from astropy.table import Table

    spread = Table.read(files["spread"])
    console.print(f"[bold]{spec.label}[/] -> {out}  (nats, mean ± spread over {len(run_lists)} realisations)")
    for row in spread:
        parts = "  ".join(f"{a} {row[a]:+.3f} ± {row[a + '_std']:.3f}" for a in ("i12", "red", "unq1", "unq2", "syn"))
        console.print(f"  {row['group']:<8} n={row['n']:<7d} {parts}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("pid")(pid_cmd)
