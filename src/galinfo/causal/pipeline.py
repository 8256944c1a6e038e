"""Orchestration of the latent-space local tests for one trained model and one question.

Used by ``galinfo causal local`` and the study runner; the maths is in :mod:`galinfo.causal.local`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from galinfo.atomic import atomic_path, write_text
from galinfo.errors import ConfigError, DataValidationError

MASS_EDGES = np.arange(8.0, 12.51, 0.5)
MAG_EDGES = np.arange(12.0, 18.01, 1.0)


def catalogue_variable(ds, name: str) -> np.ndarray:
    """A catalogue variable as float64 with NaN where missing; ``a-b`` gives a difference (colour)."""
    if name in ds.catalog.colnames:
        return ds.column(name)
    if "-" in name:
        a, b = name.split("-", 1)
        if a in ds.catalog.colnames and b in ds.catalog.colnames:
            return ds.column(a) - ds.column(b)
    raise DataValidationError(f"dataset {ds.path} has no column {name} (use a column name or 'a-b')")


def local_tests(pred, ds, query: str, *, given: str | None = None, target: str = "logmstar", k: int = 100,
                n_perm: int = 200, calibrated: bool = True, seed: int = 0, out: str | os.PathLike | None = None,
                progress: bool = False, y_from_model: bool = True) -> dict:
    """The paper's local tests and the calibrated test of ``target ⟂ query | S (, given)``.

    ``pred``: predictions with a latent (e.g. an SCL run); ``ds``: its dataset. Neighbours: the
    ``k`` nearest training galaxies in S of every galaxy (a training galaxy's list includes
    itself, as in the paper). With ``y_from_model`` (default) and no ``given``, the calibrated test
    takes E[Y | S] from the model's own pdf mean, a function of S that the estimator head learned from
    all training galaxies, instead of re-fitting a regression of Y on S (whose error, correlated
    with that of X_q's regression inside a neighbourhood, biases the test); X_q is still regressed
    on S by cross-fitting. Writes ``local_<query>[_given_<given>].fits`` (per galaxy, keyed by
    objid) and ``.json`` (summary) into ``out`` when given; returns the summary.
    """
    from astropy.table import Table
    from rich.progress import Progress

    from galinfo.causal.local import binned_summary, calibrated_local_test, paper_local_test
    from galinfo.knn.search import knn_search

    if k < 3 or n_perm < 1:
        raise ConfigError(f"need k >= 3 and n_perm >= 1, got k={k}, n_perm={n_perm}")
    if pred.latent is None:
        raise DataValidationError(f"predictions of {pred.input_set} have no latent (model without latent space)")
    rows = pred.align(ds.objid)
    latent = np.asarray(pred.latent[rows], dtype=np.float32)
    y = catalogue_variable(ds, target)
    x_q = catalogue_variable(ds, query)
    x_c = catalogue_variable(ds, given) if given else None
    train = ds.rows("train")
    if train.size <= k:
        raise DataValidationError(f"only {train.size} training galaxies for k={k}")
    xc_train = None if x_c is None else x_c[train]
    model_mean = (y_from_model and x_c is None and pred.pdf_mean is not None
                  and pred.target_column == target)
    y_pred = np.asarray(pred.pdf_mean[rows], dtype=np.float64)[train] if model_mean else None
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("neighbours in S", total=ds.n)
        _, nb = knn_search(latent[train], latent, k, progress=lambda m: bar.advance(task, m))
        task2 = bar.add_task("paper's local test", total=ds.n)
        paper = paper_local_test(nb, y[train], x_q[train], xc_train, seed=seed,
                                 progress=lambda m: bar.advance(task2, m))
        cal = None
        if calibrated:
            task3 = bar.add_task("calibrated local test", total=ds.n)
            cal = calibrated_local_test(nb, y[train], x_q[train], xc_train, latent=latent[train],
                                        y_pred=y_pred, n_perm=n_perm, n_perm_global=n_perm, seed=seed,
                                        progress=lambda m: bar.advance(task3, m))
    table = Table()
    table["objid"] = ds.objid
    table["split"] = np.asarray(ds.split).astype(str)
    table["r"] = paper.r
    table["r_perm"] = paper.r_perm
    table["efficiency"] = paper.efficiency
    table["efficiency_perm"] = paper.efficiency_perm
    table["n_valid"] = paper.n_valid
    values = {"r": paper.r, "r_perm": paper.r_perm, "efficiency": paper.efficiency}
    flags = None
    if cal is not None:
        table["r_resid"] = cal.r
        table["pvalue"] = cal.pvalue
        table["qvalue"] = cal.qvalue
        table["reject_bh"] = cal.reject_bh
        values["r_resid"] = cal.r
        flags = cal.pvalue <= cal.alpha
    summary = {
        "input_set": pred.input_set, "dataset": str(ds.path), "data_checksum": ds.checksum, "query": query,
        "given": given, "target": target, "k": k, "n_perm": n_perm, "seed": seed,
        "y_given_s": "model pdf mean" if model_mean else "cross-fitted regression on S" + (", X_c" if given else ""),
        "paper": paper.summary(), "calibrated": cal.summary() if cal is not None else None,
        "binned": {target: binned_summary(values, y, MASS_EDGES, flags=flags)},
    }
    if "mag_r" in ds.catalog.colnames:
        summary["binned"]["mag_r"] = binned_summary(values, ds.column("mag_r"), MAG_EDGES, flags=flags)
    if "cls" in ds.catalog.colnames:
        summary["binned"]["cls"] = binned_summary(values, np.asarray(ds.catalog["cls"]).astype(str), flags=flags)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"local_{query}" + (f"_given_{given}" if given else "")
        with atomic_path(out / f"{stem}.fits") as tmp:
            table.write(tmp, overwrite=True, format="fits")
        write_text(out / f"{stem}.json", json.dumps(summary, indent=2, default=float) + "\n")
        summary["files"] = {"table": str(out / f"{stem}.fits"), "summary": str(out / f"{stem}.json")}
    return summary


def _reach(children: dict[str, list[str]], start: str, keep: set[str]) -> set[str]:
    """Observed nodes reached from ``start`` along directed paths through unobserved nodes only."""
    stack, seen, found = list(children.get(start, [])), set(), set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in keep:
            found.add(node)
        else:
            stack.extend(children.get(node, []))
    return found


def project_dag(truth: dict, observed: list[str]) -> tuple[set[tuple[str, str]], set[frozenset]]:
    """Latent projection of a known DAG onto ``observed`` variables.

    Returns (directed, confounded): a -> b when the DAG has a directed path from a to b whose
    intermediate nodes are all unobserved; {a, b} confounded when an unobserved node reaches both
    that way (a bidirected edge of the projection; e.g. two magnitudes measured on the same image).
    ``truth``: truth_dag.json ({"nodes": {child: {"parents": [...]}}}) or {child: [parents]}.
    """
    table = truth.get("nodes", truth)
    children: dict[str, list[str]] = {}
    for child, spec in table.items():
        for parent in (spec.get("parents", []) if isinstance(spec, dict) else spec):
            children.setdefault(parent, []).append(child)
    keep = set(observed)
    directed = {(a, b) for a in observed for b in _reach(children, a, keep) if b != a}
    confounded: set[frozenset] = set()
    hidden = (set(children) | set(table)) - keep
    for u in hidden:
        reached = sorted(_reach(children, u, keep))
        for i, a in enumerate(reached):
            for b in reached[i + 1:]:
                pair = frozenset((a, b))
                if (a, b) not in directed and (b, a) not in directed:
                    confounded.add(pair)
    return directed, confounded
