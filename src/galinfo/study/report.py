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
from galinfo.info.tuples import band_study_tuples
from galinfo.report.html import Figure, Section, TableBlock, render_html, write_text_atomic
from galinfo.study.paper_claims import AGREEMENT_WORDS

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


def _sufficiency_cell(m: dict, sufficiency: dict[str, dict]) -> str:
    v = sufficiency.get(m["inputs"]) if m["objective"] == "scl" else None
    if v is None:
        return ""
    verdict = v.get("verdict") or {True: "sufficient", False: "not sufficient"}.get(v["sufficient"], "not measured")
    if v.get("gap_nats") is None:
        return verdict
    return (f"{'NOT sufficient' if verdict == 'not sufficient' else verdict}: {v.get('comparator') or 'ce model'} "
            f"{_f(v['val_ce_ce'])}, gap {_f(v['gap_nats'])} (margin ±{v['margin_nats']:g})")


def estimation_section(models: list[dict], knn: list[dict], figures: list[Figure],
                       sufficiency: dict[str, dict] | None = None) -> Section:
    rows = []
    for m in models:
        t = m["metrics"].get("test", {})
        val = m["metrics"].get("val", {})
        val_ce = -val["mean_log_q_true"] if "mean_log_q_true" in val else None
        rows.append([m["inputs"], m["objective"], t.get("n", 0), _f(t.get("bias")), _f(t.get("sigma_mad")),
                     _f(t.get("eta")), _f(t.get("crps")), _f(val_ce), _sufficiency_cell(m, sufficiency or {})])
    sec = Section("Estimation", [
        "How well each trained model estimates log M* on the held-out test galaxies, from the mean of its pdf. "
        "bias = mean(estimate − truth); σ_MAD = 1.4826 × median absolute deviation of the errors; "
        "η = fraction of errors beyond 3σ_MAD; CRPS = continuous ranked probability score of the pdf (dex; lower is better). "
        "'scl' models are the supervised-contrastive latent models used by the causal tests; 'ce' models are the "
        "cross-entropy models used by the information decomposition. 'val CE' is the validation cross-entropy "
        "−mean ln q(true bin | x) in nats; next to each latent model, the same for a cross-entropy model of the "
        "same inputs: a latent that is more than the margin behind has lost information about log M* its inputs "
        "carry, and tests in its space are not interpretable."],
        tables=[TableBlock(["input set", "objective", "n test", "bias", "σ_MAD", "η", "CRPS", "val CE",
                            "latent sufficiency (val CE, nats)"], rows)])
    if knn:
        krows = [[k["latent"], k["kmax"], _f(k["pit_w1_softmax"]), _f(k["pit_w1_knn"]),
                  _f(k["sigma_mad_softmax"]), _f(k["sigma_mad_knn"])] for k in knn]
        sec.tables.append(TableBlock(
            ["latent model", "k max", "PIT W1 softmax", "PIT W1 adaptive KNN", "σ_MAD softmax", "σ_MAD KNN"], krows,
            "Calibration of pdfs: 1-Wasserstein distance of the test galaxies' PIT values to a uniform distribution "
            "(0 = perfectly calibrated), for the network's softmax and for CLAP's adaptive-k KNN pdfs in the latent space."
            + _smoothing_note(knn)))
    sec.tables.extend(breakdown_tables(models))
    sec.figures.extend(figures)
    return sec


_BIN_WORDS = {"logmstar": "true log M* (dex)", "mag_r": "r magnitude"}


def breakdown_tables(models: list[dict]) -> list[TableBlock]:
    """Test-split accuracy of each model per class, and σ_MAD (n) in bins of the true target and of
    the r magnitude (``metrics["by_group"]`` of :func:`galinfo.models.inference.evaluate`)."""
    groups = {f"{m['objective']}: {m['inputs']}": m["metrics"]["by_group"]
              for m in models if m.get("metrics", {}).get("by_group")}
    if not groups:
        return []
    tables = []
    rows = [[name, label, g["n"], _f(g["bias"]), _f(g["sigma_mad"]), _f(g["eta"])]
            for name, by in groups.items() for label, g in by.get("class", {}).items()]
    if rows:
        tables.append(TableBlock(["model", "class", "n test", "bias", "σ_MAD", "η"], rows,
                                 "Accuracy of each model per galaxy class on the test split (dex)."))
    for var in sorted({k for by in groups.values() for k in by if k != "class"}):
        bins = sorted({(r["x_low"], r["x_high"]) for by in groups.values() for r in by.get(var, [])})
        if not bins:
            continue
        cells = []
        for name, by in groups.items():
            found = {(r["x_low"], r["x_high"]): r for r in by.get(var, [])}
            cells.append([name] + [f"{_f(found[b]['sigma_mad'])} ({found[b]['n']})" if b in found else "–"
                                   for b in bins])
        tables.append(TableBlock(["model"] + [f"[{lo:g}, {hi:g})" for lo, hi in bins], cells,
                                 f"σ_MAD (dex) of each model in bins of {_BIN_WORDS.get(var, var)} on the test "
                                 "split, with the number of galaxies in brackets; bins of fewer than 10 galaxies "
                                 "are left out (–)."))
    return tables


def pid_section(pids: list[dict], bar_figure: Figure | None, band_figures: list[Figure] = ()) -> Section:
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
    averages = [[p["tuple"], g["group"], *(_f(v) for v in mmi_on_averages(g).values())]
                for p in pids for g in p["summary"] if g["group"] == "all"]
    if averages:
        sec.tables.append(TableBlock(
            ["tuple", "class", "red", "unq1", "unq2", "syn"], averages,
            "MMI on the averages (nats): the same decomposition applied to the mean informations i1, i2 and i12 "
            "instead of galaxy by galaxy (red = min of the means, syn = mean i12 − max of the means). Pointwise "
            "synergy is at most this: per-galaxy noise raises the mean of max(i1, i2) (the tightness section's "
            "noise floor)."))
    copula = [[p["tuple"], p["copula"]["n"], *(_f(p["copula"]["mmi"][k]) for k in ("i1", "i2", "i12")),
               *(_f(p["copula"][which][a]) if p["copula"][which] else "n/a"
                 for which in ("mmi", "dep") for a in ("red", "unq1", "unq2", "syn"))]
              for p in pids if p.get("copula")]
    if copula:
        sec.tables.append(TableBlock(
            ["tuple", "n test", "I1", "I2", "I12", "MMI red", "MMI unq1", "MMI unq2", "MMI syn",
             "I_dep red", "I_dep unq1", "I_dep unq2", "I_dep syn"], copula,
            "Model-free cross-check (nats): Gaussian-copula mutual informations of the two source models' latent "
            "vectors with log M* (the union is their concatenation), split by the closed-form MMI and I_dep "
            "decompositions of a Gaussian system. Copula values are lower bounds when the dependence is not "
            "Gaussian; they should rank the tuples' atoms like the pointwise table, not equal it."))
    if bar_figure:
        sec.figures.append(bar_figure)
    sec.figures.extend(band_figures)
    band = {t.label for t in band_study_tuples()}
    for p in pids:
        for f in p.get("figures", []):
            sec.figures.append(Figure(Path(f), f"{p['tuple']}: mean atoms in bins of {Path(f).stem.removeprefix('stack_')}, "
                                      "one panel per class; positive atoms stacked above zero, negative ones below; "
                                      "the line is the union's total information.", folded=p["tuple"] in band))
    return sec


def mmi_on_averages(g: dict) -> dict[str, float]:
    """Minimum-mutual-information atoms of the mean informations of one summary row (nats)."""
    red = min(g["i1"], g["i2"])
    return {"red": red, "unq1": g["i1"] - red, "unq2": g["i2"] - red, "syn": g["i12"] - max(g["i1"], g["i2"])}


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


VERDICTS = {True: "right", False: "wrong", None: "undecided"}
VERDICT_WORDS = {True: "yes", False: "no"}


def truth_section(checks: list[dict]) -> Section:
    rows = [[c["answer"], c["test"], c["expected"], _pvalue(c.get("p")), _pvalue(c.get("p_holm")), c["found"],
             VERDICTS[c["right"]]] for c in checks]
    n_right = sum(c["right"] is True for c in checks)
    n_undecided = sum(c["right"] is None for c in checks)
    return Section("Check against the mock's known truth", [
        f"The mock survey was generated from a known causal graph (truth_dag.json). Each row compares a designed answer "
        f"with what this study's analyses found: {n_right} of {len(checks)} right"
        + (f", {n_undecided} undecided" if n_undecided else "") + ". "
        "The decisions control the family-wise error over the panel: the whole-sample p-values of its questions "
        "are Holm-adjusted together and a question counts as dependent where the adjusted p is ≤ 0.05, so a "
        "calibrated run calls any designed null wrong with at most 5% probability. A question asked in a latent "
        "space that is not sufficient is undecided, never right."],
        tables=[TableBlock(["designed answer", "test", "expected", "p", "Holm p", "found", "verdict"], rows)])


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
    if results.get("sufficiency"):
        out += ["## Latent sufficiency (validation cross-entropy, nats per galaxy)", "",
                "| latent | latent model | comparator | comparator model | gap | verdict |",
                "|---|---|---|---|---|---|"]
        for latent, v in results["sufficiency"].items():
            verdict = v.get("verdict") or VERDICT_WORDS.get(v.get("sufficient"), "unknown")
            out.append(f"| {esc(latent)} | {_f(v.get('val_ce_latent'))} | {esc(str(v.get('comparator') or 'ce'))} | "
                       f"{_f(v.get('val_ce_ce'))} | {_f(v.get('gap_nats'))} | {verdict} |")
        out.append("")
    if results.get("images_vs_photometry"):
        out += ["## Images against photometry (test split, paired)", "",
                "| images | photometry | n | σ_MAD images | σ_MAD photometry | Δσ_MAD (dex) | Δi (nats) |",
                "|---|---|---|---|---|---|---|"]
        for r in results["images_vs_photometry"]:
            out.append(f"| {esc(r['images'])} | {esc(r['photometry'])} | {r['n']} | {_f(r['sigma_mad_a'], 4)} | "
                       f"{_f(r['sigma_mad_b'], 4)} | {r['d_sigma_mad']:+.4f} ± {r['d_sigma_mad_se']:.4f} | "
                       f"{r['d_info']:+.3f} ± {r['d_info_se']:.3f} |")
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
    if results.get("paper_vs_run"):
        out += ["## The paper against this run", "", "| paper | this run | | why |", "|---|---|---|---|"]
        for r in results["paper_vs_run"]:
            out.append(f"| {esc(r['paper'])} | {esc(r['this_run'])} | {AGREEMENT_WORDS[r['agrees']]} | {esc(r['why'])} |")
        out.append("")
    if results.get("truth_check"):
        out += ["## Check against the mock's known truth", "",
                "| designed answer | test | expected | p | Holm p | found | verdict |", "|---|---|---|---|---|---|---|"]
        for c in results["truth_check"]:
            out.append(f"| {c['answer']} | {esc(c['test'])} | {c['expected']} | {_pvalue(c.get('p'))} | "
                       f"{_pvalue(c.get('p_holm'))} | {esc(c['found'])} | {VERDICTS[c['right']]} |")
        out.append("")
    return "\n".join(out) + "\n"


def results_numbers(results: Any, path: str = "") -> dict[str, float]:
    """Every number of a results.json mapping by its path (``/pid/<A, B>/0/syn``), step times left out:
    what must agree between two runs of one study."""
    out: dict[str, float] = {}
    if isinstance(results, dict):
        for k, v in results.items():
            if k != "seconds":
                out.update(results_numbers(v, f"{path}/{k}"))
    elif isinstance(results, list):
        for i, v in enumerate(results):
            out.update(results_numbers(v, f"{path}/{i}"))
    elif isinstance(results, bool | int | float):
        out[path] = float(results)
    return out
