"""``galinfo causal``: local tests in a model's latent space, and causal discovery."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import typer

from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

causal_app = typer.Typer(name="causal", help="Local conditional-independence tests and causal discovery.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``causal`` sub-app to the main CLI."""
    app.add_typer(causal_app, name="causal")


@causal_app.command("local")
def local_cmd(
    run: Path = typer.Argument(..., help="Run folder holding predictions.h5 with a latent"),
    query: str = typer.Option(..., "--query", help="Query variable X_q (column, or 'a-b')"),
    dataset: Path = typer.Option(..., "--dataset", help="Dataset folder the run was trained on"),
    given: str | None = typer.Option(None, "--given", help="Conditioning variable X_c"),
    k: int = typer.Option(100, help="Neighbours per galaxy among the training galaxies"),
    n_perm: int = typer.Option(200, help="Permutations per galaxy and for the whole-sample test"),
    calibrated: bool = typer.Option(True, help="Also run the calibrated (residualised) test"),
    target: str = typer.Option("logmstar", help="Target column Y"),
    seed: int = typer.Option(0),
    y_from_model: bool = typer.Option(True, help="E[Y|S] from the model's pdf mean (without --given); "
                                                 "--no-y-from-model re-fits a regression on S"),
    out: Path | None = typer.Option(None, help="Output folder (default RUN/causal)"),
) -> None:
    """Local tests of Y ⟂ X_q | S (, X_c): per-galaxy FITS table keyed by objid + summary JSON."""
    from galinfo.causal.pipeline import local_tests
    from galinfo.data.dataset import Dataset
    from galinfo.models.outputs import read_predictions

    pred = read_predictions(run)
    ds = Dataset.open(dataset)
    out = out or Path(run) / "causal"
    summary = local_tests(pred, ds, query, given=given, target=target, k=k, n_perm=n_perm,
                          calibrated=calibrated, seed=seed, out=out, progress=True, y_from_model=y_from_model)
    cal = summary.get("calibrated")
    if cal:
        d = cal["diagnostic"]
        typer.echo(f"calibrated local test: {cal['verdict']} (whole-sample p = {cal['global_pvalue']:.3g}; "
                   f"held-out R² of the residuals from S: y {d['r2_y']:.3f}, x_q {d['r2_x']:.3f})")
    typer.echo(f"wrote {summary['files']['table']} and {summary['files']['summary']}")
    for why, n in summary["left_out"].items():
        typer.echo(f"  left out: {n} {why}")


def _discovery_test(name: str, k: int, n_perm: int):
    """The CI-test family member behind ``--test`` (``fisherz`` stays causal-learn's own)."""
    from galinfo.causal.citest import GCMTest, KnnCMITest, LocalPermutationNull

    members = {"knn_cmi": lambda: KnnCMITest(k=k, null=LocalPermutationNull(n_perm)), "gcm": GCMTest}
    if name == "fisherz":
        return name
    if name not in members:
        raise ConfigError(f"--test must be one of {', '.join([*members, 'fisherz'])}, got {name!r}")
    return members[name]()


@causal_app.command("discover")
def discover_cmd(
    dataset: Path = typer.Argument(..., help="Dataset folder"),
    vars: str = typer.Option(..., "--vars", help="Comma-separated variables (columns or 'a-b')"),
    method: str = typer.Option("pc", help="pc or fci"),
    test: str = typer.Option("knn_cmi", help="knn_cmi, gcm (cross-fitted residual test) or fisherz"),
    alpha: float = typer.Option(0.05),
    max_rows: int = typer.Option(2000, help="Random subsample of complete rows (KNN-CMI cost)"),
    k: int = typer.Option(10),
    n_perm: int = typer.Option(100),
    depth: int = typer.Option(-1, help="Maximum conditioning-set size (-1: unlimited)"),
    truth: Path | None = typer.Option(None, help="Known DAG JSON to score against (truth_dag.json)"),
    seed: int = typer.Option(0),
    out: Path | None = typer.Option(None, help="Output folder (default DATASET/../causal_<method>)"),
) -> None:
    """PC / FCI over catalogue variables; writes graph JSON + PNG (and a score with --truth)."""
    from galinfo.causal.discovery import discover, score_graph
    from galinfo.causal.pipeline import catalogue_variable
    from galinfo.data.dataset import Dataset

    names = [v.strip() for v in vars.split(",") if v.strip()]
    if len(names) < 2:
        raise ConfigError(f"--vars needs at least two variables, got {vars!r}")
    ds = Dataset.open(dataset)
    data = np.stack([catalogue_variable(ds, v) for v in names], axis=1)
    ok = np.isfinite(data).all(axis=1)
    n_drop = int((~ok).sum())
    rows = np.flatnonzero(ok)
    if rows.size > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    if rows.size < 50:
        raise DataValidationError(f"only {rows.size} complete rows for variables {', '.join(names)}")
    graph = discover(data[rows], names, method=method, test=_discovery_test(test, k, n_perm), alpha=alpha,
                     k=k, n_perm=n_perm, seed=seed, depth=depth)
    graph.extra.update({"dataset": str(dataset), "rows_dropped_missing": n_drop, "seed": seed})
    if truth is not None:
        if not truth.exists():
            raise DataValidationError(f"no truth DAG file at {truth}")
        graph.extra["score"] = score_graph(graph, json.loads(truth.read_text()))
    out = out or Path(dataset).parent / f"causal_{method}"
    out.mkdir(parents=True, exist_ok=True)
    graph.write_json(out / "graph.json")
    graph.plot(out / "graph.png")
    typer.echo(f"{len(graph.edges)} edges ({n_drop} rows dropped for missing values); wrote {out}/graph.json, graph.png")
    for e in graph.to_dict()["edges"]:
        typer.echo(f"  {e['text']}")
