"""Orchestration of the latent-space local tests for one trained model and one question.

Used by ``galinfo causal local`` and the study runner; the maths is in :mod:`galinfo.causal.local`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from galinfo.atomic import atomic_path, write_text
from galinfo.data.validate import defined_rows
from galinfo.errors import ConfigError, DataValidationError

MASS_EDGES = np.arange(8.0, 12.51, 0.5)
MAG_EDGES = np.arange(12.0, 18.01, 1.0)
#: global permutations of X_q behind the paper test's whole-sample p-value (a reference, not calibrated)
PAPER_PERMUTATIONS = 20


def regression_cell(cal: dict) -> str:
    """Report cell of a calibrated summary's regression diagnostic: held-out R² of the Y and X_q
    residuals from S, and "adequate" / "inadequate"."""
    d = cal.get("diagnostic") if cal else None
    if not d:
        return "n/a"
    return f"{d['r2_y']:.2f}, {d['r2_x']:.2f} ({'adequate' if d['adequate'] else 'inadequate'})"


def calibrated_summary(res) -> dict:
    """JSON summary of a :class:`galinfo.causal.citest.CIResult` of the calibrated local test: the
    whole-sample p-value, the verdict and the regression diagnostic."""
    out = res.summary()
    out.update({"global_pvalue": res.pvalue, "mean_t": res.statistic})
    return out


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
    on S by cross-fitting. Galaxies without a latent (an input missing) are left out;
    training galaxies without the target or a query value are not used as neighbours; both are
    counted in ``summary["left_out"]``. Writes ``local_<query>[_given_<given>].fits`` (per galaxy, keyed by
    objid) and ``.json`` (summary) into ``out`` when given; returns the summary.
    """
    from astropy.table import Table
    from rich.progress import Progress

    from galinfo.causal.citest import CalibratedLocalTest, PaperLocalTest, PermutationNull
    from galinfo.causal.local import binned_summary
    from galinfo.knn.search import knn_search

    if k < 3 or n_perm < 1:
        raise ConfigError(f"need k >= 3 and n_perm >= 1, got k={k}, n_perm={n_perm}")
    if pred.latent is None:
        raise DataValidationError(f"predictions of {pred.input_set} have no latent (model without latent space)")
    found = pred.find(ds.objid)
    have = found >= 0
    have[have] = defined_rows(pred.latent[found[have]])
    use = np.flatnonzero(have)  # dataset rows with a latent: the galaxies tested
    rows = found[use]
    latent = np.asarray(pred.latent[rows], dtype=np.float32)
    y = catalogue_variable(ds, target)[use]
    x_q = catalogue_variable(ds, query)[use]
    x_c = catalogue_variable(ds, given)[use] if given else None
    split = ds.split[use]
    train = np.flatnonzero(split == "train")
    ref_ok = defined_rows(y[train], x_q[train], x_c[train] if x_c is not None else None)
    left_out = {f"no latent in {pred.input_set} (an input missing)": int(ds.n - use.size),
                "training galaxies without " + ", ".join(c for c in (target, query, given) if c)
                + " (not used as neighbours)": int((~ref_ok).sum())}
    if train.size <= k:
        raise DataValidationError(f"only {train.size} training galaxies with a latent for k={k}")
    xc_train = None if x_c is None else x_c[train]
    model_mean = (y_from_model and x_c is None and pred.pdf_mean is not None
                  and pred.target_column == target)
    y_pred = np.asarray(pred.pdf_mean[rows], dtype=np.float64)[train] if model_mean else None
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("neighbours in S", total=use.size)
        _, nb = knn_search(latent[train], latent, k, progress=lambda m: bar.advance(task, m))
    paper_test = PaperLocalTest(k=k, seed=seed, null=PermutationNull(PAPER_PERMUTATIONS))
    paper = paper_test.run(x_q[train], y[train], latent[train], x_c=xc_train, neighbours=nb)
    cal = None
    if calibrated:
        cal_test = CalibratedLocalTest(k=k, n_perm_local=n_perm, null=PermutationNull(n_perm), seed=seed)
        cal = cal_test.run(x_q[train], y[train], latent[train], x_c=xc_train, neighbours=nb, y_pred=y_pred)
    table = Table()
    table["objid"] = ds.objid[use]
    table["split"] = np.asarray(split).astype(str)
    for name in ("r", "r_perm", "efficiency", "efficiency_perm", "n_valid"):
        table[name] = paper.local[name]
    values = {"r": paper.local["r"], "r_perm": paper.local["r_perm"], "efficiency": paper.local["efficiency"]}
    flags = None
    if cal is not None:
        table["r_resid"] = cal.local["r"]
        table["t_resid"] = cal.local["t"]
        table["pvalue"] = cal.local["pvalue"]
        table["qvalue"] = cal.local["qvalue"]
        table["reject_bh"] = cal.local["reject_bh"]
        values["r_resid"] = cal.local["r"]
        flags = cal.local["pvalue"] <= cal.alpha
    summary = {
        "input_set": pred.input_set, "dataset": str(ds.path), "data_checksum": ds.checksum, "query": query,
        "given": given, "target": target, "k": k, "n_perm": n_perm, "seed": seed,
        "y_given_s": "model pdf mean" if model_mean else "cross-fitted regression on S" + (", X_c" if given else ""),
        "n_tested": int(use.size), "left_out": {why: n for why, n in left_out.items() if n},
        "paper": {**paper.extra, "statistic": paper.statistic, "pvalue": paper.pvalue},
        "calibrated": calibrated_summary(cal) if cal is not None else None,
        "binned": {target: binned_summary(values, y, MASS_EDGES, flags=flags)},
    }
    if "mag_r" in ds.catalog.colnames:
        summary["binned"]["mag_r"] = binned_summary(values, ds.column("mag_r", use), MAG_EDGES, flags=flags)
    if "cls" in ds.catalog.colnames:
        summary["binned"]["cls"] = binned_summary(values, np.asarray(ds.catalog["cls"]).astype(str)[use],
                                                  flags=flags)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"local_{query}" + (f"_given_{given}" if given else "")
        with atomic_path(out / f"{stem}.fits") as tmp:
            table.write(tmp, overwrite=True, format="fits")
        write_text(out / f"{stem}.json", json.dumps(summary, indent=2, default=float) + "\n")
        summary["files"] = {"table": str(out / f"{stem}.fits"), "summary": str(out / f"{stem}.json")}
    return summary
