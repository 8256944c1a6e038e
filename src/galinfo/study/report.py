"""The study report: ``report.html`` (self-contained, figures embedded) and ``results.json``.

``results.json`` has the top-level keys ``estimation``, ``pid``, ``causal`` and, for mock data,
``truth_check``; plus ``dataset``, ``knn`` and ``left_out`` ({step: {reason: galaxies}}). Every number in the page comes from the step
summaries of the same run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from galinfo.causal.pipeline import regression_cell
from galinfo.report.html import Figure, Section, TableBlock, render_html, write_text_atomic

ATOM_WORDS = {
    "red": "redundant", "unq1": "unique to source 1", "unq2": "unique to source 2", "syn": "synergistic",
}


def _smoothing_note(knn: list[dict]) -> str:
    widths = sorted({k.get("pdf_smoothing") or 0.0 for k in knn})
    if widths == [0.0]:
        return " The softmax pdfs are raw (no smoothing)."
    return (" The softmax pdfs were smoothed with a Gaussian chosen on the validation split (σ = "
            + ", ".join(f"{w:.4g}" for w in widths) + " in target units).")


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _pvalue(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def dataset_section(s: dict) -> Section:
    n = s["n_per_split"]
    prov = s.get("provenance", {})
    paras = [f"{s['n']} galaxies ({n.get('train', 0)} train, {n.get('val', 0)} validation, {n.get('test', 0)} test) "
             f"from {'a GalSim mock survey with a known causal graph' if s['kind'] == 'mock' else prov.get('source', s['path'])}. "
             f"Images: {'yes' if s['has_images'] else 'none'}. Catalogue checksum {s['checksum'][:12]}…"]
    if prov.get("citation"):
        paras.append(f"Source: {prov['citation']}.")
    if prov.get("dropped"):
        paras.append("Rows dropped at import: " + ", ".join(f"{v} {k}" for k, v in prov["dropped"].items()) + ".")
    return Section("Dataset", paras)


def left_out_section(left_out: dict[str, dict[str, int]], masked: dict[str, int]) -> Section:
    """Per step, how many galaxies were left out and why; values masked at import, per column."""
    rows = [[step, n, why] for step, reasons in left_out.items() for why, n in reasons.items()]
    paras = ["Every step uses the galaxies for which its quantities are defined and counts the rest "
             "(docs/data-model.md, the missing-value contract)."
             + ("" if rows else " No step left any galaxy out.")]
    if masked:
        paras.append("Values masked at import (sentinels, no-match codes, non-physical values): "
                     + ", ".join(f"{c} {n}" for c, n in masked.items()) + ".")
    return Section("Galaxies left out, per step", paras,
                   [TableBlock(["step", "galaxies", "why"], rows)] if rows else [])


def estimation_section(models: list[dict], knn: list[dict], figures: list[Figure]) -> Section:
    rows = []
    for m in models:
        t = m["metrics"].get("test", {})
        rows.append([m["inputs"], m["objective"], t.get("n", 0), _f(t.get("bias")), _f(t.get("sigma_mad")),
                     _f(t.get("eta")), _f(t.get("crps"))])
    sec = Section("Estimation", [
        "How well each trained model estimates log M* on the held-out test galaxies, from the mean of its pdf. "
        "bias = mean(estimate − truth); σ_MAD = 1.4826 × median absolute deviation of the errors; "
        "η = fraction of errors beyond 3σ_MAD; CRPS = continuous ranked probability score of the pdf (dex; lower is better). "
        "'scl' models are the supervised-contrastive latent models used by the causal tests; 'ce' models are the "
        "cross-entropy models used by the information decomposition."],
        tables=[TableBlock(["input set", "objective", "n test", "bias", "σ_MAD", "η", "CRPS"], rows)])
    if knn:
        krows = [[k["latent"], k["kmax"], _f(k["pit_w1_softmax"]), _f(k["pit_w1_knn"]),
                  _f(k["sigma_mad_softmax"]), _f(k["sigma_mad_knn"])] for k in knn]
        sec.tables.append(TableBlock(
            ["latent model", "k max", "PIT W1 softmax", "PIT W1 adaptive KNN", "σ_MAD softmax", "σ_MAD KNN"], krows,
            "Calibration of pdfs: 1-Wasserstein distance of the test galaxies' PIT values to a uniform distribution "
            "(0 = perfectly calibrated), for the network's softmax and for CLAP's adaptive-k KNN pdfs in the latent space."
            + _smoothing_note(knn)))
    sec.figures.extend(figures)
    return sec


def pid_section(pids: list[dict], bar_figure: Figure | None) -> Section:
    rows = []
    for p in pids:
        for g in p["summary"]:
            rows.append([p["tuple"], g["group"], g["n"],
                         *(f"{_f(g[a])} [{_f(g[a + '_lo'])}, {_f(g[a + '_hi'])}]" for a in ("i1", "i2", "i12", "red", "unq1", "unq2", "syn"))])
    sec = Section("Information decomposition", [
        "For each pair of input sets ⟨X1, X2⟩, three cross-entropy models (X1, X2 and their union) give every test "
        "galaxy a pointwise mutual information i = ln q(true bin | x) − ln p(true bin), in nats: how much more "
        "probability the model puts on the true stellar-mass bin than the prior does. The pointwise minimum rule splits "
        "the union's information into redundant (min(i1, i2)), unique and synergistic parts (i12 − max(i1, i2)); "
        "they add up to i12 for every galaxy. Negative values mean the model put less probability on the truth than "
        "the prior ('misinformation'); negative synergy means the union model did worse than the better single source. "
        "Means over galaxies with 95% bootstrap intervals; the mean i is a lower bound on the mutual information."],
        tables=[TableBlock(["tuple", "class", "n", "i1", "i2", "i12", "red", "unq1", "unq2", "syn"], rows)])
    if bar_figure:
        sec.figures.append(bar_figure)
    for p in pids:
        for f in p.get("figures", []):
            sec.figures.append(Figure(Path(f), f"{p['tuple']}: mean atoms in bins of {Path(f).stem.removeprefix('stack_')}, "
                                      "one panel per class; positive atoms stacked above zero, negative ones below; "
                                      "the line is the union's total information."))
    return sec


def write_report(out: Path, title: str, sections: list[Section], results: dict) -> tuple[Path, Path]:
    """Write ``report.html`` and ``results.json`` into ``out`` (atomically)."""
    subtitle = ("galinfo study report: stellar-mass estimators and their interpretation "
                "(Zhang, Lin, Ting et al. 2025; Lin et al. 2024).")
    html_path = write_text_atomic(out / "report.html", render_html(title, subtitle, sections))
    json_path = write_text_atomic(out / "results.json", json.dumps(results, indent=1, default=_default, allow_nan=True))
    return html_path, json_path


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


def truth_section(checks: list[dict]) -> Section:
    rows = [[c["answer"], c["test"], c["expected"], c["found"], "right" if c["right"] else "wrong"] for c in checks]
    n_right = sum(c["right"] for c in checks)
    return Section("Check against the mock's known truth", [
        f"The mock survey was generated from a known causal graph (truth_dag.json). Each row compares a designed answer "
        f"with what this study's analyses found: {n_right} of {len(checks)} right."],
        tables=[TableBlock(["designed answer", "test", "expected", "found", "verdict"], rows)])


def results_markdown(results: dict, title: str, command: str) -> str:
    """The numbers of ``results.json`` as Markdown tables (for docs that must match a run)."""
    def esc(text: str) -> str:
        return str(text).replace("|", "\\|")

    out = [f"# {title}", "", f"Produced by `{command}`; every number below is read from its `results.json`.", ""]
    ds = results.get("dataset", {})
    if ds:
        out += [f"Dataset: {ds.get('n')} galaxies, splits {ds.get('n_per_split')}, catalogue checksum "
                f"`{str(ds.get('checksum', ''))[:16]}`.", ""]
    if results.get("estimation"):
        out += ["## Estimation (test split, pdf mean)", "", "| model | n | bias | σ_MAD | η | CRPS |", "|---|---|---|---|---|---|"]
        for name, m in results["estimation"].items():
            t = m.get("test", {})
            out.append(f"| {esc(name)} | {t.get('n')} | {_f(t.get('bias'))} | {_f(t.get('sigma_mad'))} | "
                       f"{_f(t.get('eta'))} | {_f(t.get('crps'))} |")
        out.append("")
    if results.get("pid"):
        out += ["## Information decomposition (nats, mean [95% bootstrap interval])", ""]
        for tup, rows in results["pid"].items():
            out += [f"### {esc(tup)}", "", "| class | n | i1 | i2 | i12 | red | unq1 | unq2 | syn |", "|---|---|---|---|---|---|---|---|---|"]
            for g in rows:
                cells = [f"{_f(g[a])} [{_f(g[a + '_lo'])}, {_f(g[a + '_hi'])}]"
                         for a in ("i1", "i2", "i12", "red", "unq1", "unq2", "syn")]
                out.append(f"| {g['group']} | {g['n']} | " + " | ".join(cells) + " |")
            out.append("")
    if results.get("causal"):
        out += ["## Local tests in the latent space", "",
                "| question | k | paper r | paper baseline | calibrated r | effect size | whole-sample p | frac p ≤ 0.05 | BH discoveries | regression R² (y, x) | verdict |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for q, c in results["causal"].items():
            cal = c.get("calibrated") or {}
            out.append(f"| {esc(q)} | {c['k']} | {_f(c['paper']['mean_r'])} | {_f(c['paper']['mean_r_perm'])} | "
                       f"{_f(cal.get('mean_r'))} | {_f(cal.get('effect_size'))} | {_pvalue(cal.get('global_pvalue'))} | "
                       f"{_f(cal.get('frac_p_below_alpha'))} | {cal.get('n_reject_bh')} | "
                       f"{esc(regression_cell(cal))} | {esc(cal.get('verdict', 'n/a'))} |")
        out.append("")
    disc = results.get("discovery") or {}
    if disc.get("edges"):
        out += ["## Causal discovery (PC, KNN-CMI test)", "", f"{disc['n_rows']} galaxies; edges:", ""]
        out += [f"- `{e}`" for e in disc["edges"]]
        out.append("")
    for check in results.get("truth_check", []) or []:
        out.append(f"- {check['answer']}: {check['test']}: expected {check['expected']}, found {check['found']} "
                   f"({'right' if check['right'] else 'wrong'})")
    return "\n".join(out) + "\n"
