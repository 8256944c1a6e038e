"""Study steps for the causal analyses: local tests in a latent space, causal discovery, their report
sections and the check of their answers against the mock's known graph."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from galinfo.atomic import save_figure
from galinfo.causal.citest import INADEQUATE
from galinfo.causal.pipeline import regression_cell
from galinfo.data.dataset import Dataset
from galinfo.data.inputs import parse_inputs
from galinfo.report.html import Figure, Section, TableBlock
from galinfo.study.plan import Step

if TYPE_CHECKING:  # the runner registers these steps (galinfo.study.runner.STEP_KINDS)
    from galinfo.study.runner import Study

ALPHA = 0.05
# A latent S keeps the target information of its inputs X when a classifier on S does as well as one
# on X: a latent model whose validation cross-entropy exceeds that of the `ce` model of the same
# inputs by more than this (nats per galaxy) is "not sufficient", and tests in its space say nothing
# about what X lacks.
SUFFICIENCY_MARGIN_NATS = 0.05
NOT_SUFFICIENT = "latent not sufficient: not interpretable"
# PC with the KNN-CMI test costs (CI tests) x (permutations) x (rows log rows): bounded so that the
# discovery step of a study takes minutes on a laptop; `galinfo causal discover` has all the knobs.
DISCOVERY_MAX_ROWS = 1000
DISCOVERY_PERMUTATIONS = 50
DISCOVERY_DEPTH = 2


def run_causal(study: Study, step: Step) -> dict:
    from galinfo.causal.pipeline import local_tests
    from galinfo.models.outputs import read_predictions

    p = step.params
    pred = read_predictions(study.model_dir("scl", p["latent"]))
    ds = Dataset.open(study.dataset_path)
    summary = local_tests(pred, ds, p["query"], given=p["given"], target=study.cfg.target, k=p["k"],
                          seed=p["seed"], out=study.step_dir(step))
    summary["question"] = step.name.removeprefix("causal:")
    summary["figure"] = str(_plot_local(summary, study.step_dir(step) / "local_vs_mass", study.cfg.target))
    return summary


def _plot_local(summary: dict, stem: Path, target: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure as MplFigure

    rows = [r for r in summary["binned"][target] if r["n"] >= 20]
    fig = MplFigure(figsize=(6.4, 3.4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    centers = [float(r["bin"].strip("[)").split(",")[0]) + 0.25 for r in rows]
    ax.plot(centers, [r["mean_r"] for r in rows], "o-", label="paper: local r")
    ax.plot(centers, [r["mean_r_perm"] for r in rows], "s--", label="paper: permutation baseline")
    if "mean_r_resid" in (rows[0] if rows else {}):
        ax.plot(centers, [r["mean_r_resid"] for r in rows], "^-", label="calibrated: residual r")
    ax.axhline(0, color="0.5", lw=0.7)
    ax.set_xlabel(f"{target}")
    ax.set_ylabel("mean local correlation")
    ax.legend(fontsize=7)
    if rows and "frac_flagged" in rows[0]:
        ax2.bar(centers, [r["frac_flagged"] for r in rows], width=0.4, color="#4a7ab5")
        ax2.axhline(ALPHA, color="#b3261e", lw=0.8, ls="--", label=f"nominal {ALPHA}")
        ax2.set_ylabel("fraction of galaxies with p ≤ 0.05")
        ax2.set_xlabel(f"{target}")
        ax2.legend(fontsize=7)
    fig.suptitle(summary["question"], fontsize=9)
    return save_figure(fig, stem, dpi=130)[0]


def run_discover(study: Study, step: Step) -> dict:
    from galinfo.causal.discovery import discover, score_graph
    from galinfo.causal.pipeline import catalogue_variable

    names = list(step.params["vars"])
    ds = Dataset.open(study.dataset_path)
    data = np.stack([catalogue_variable(ds, v) for v in names], axis=1)
    ok = np.flatnonzero(np.isfinite(data).all(axis=1))
    rng = np.random.default_rng(step.params["seed"])
    rows = np.sort(rng.choice(ok, DISCOVERY_MAX_ROWS, replace=False)) if ok.size > DISCOVERY_MAX_ROWS else ok
    graph = discover(data[rows], names, method="pc", test="knn_cmi", alpha=ALPHA, k=10,
                     n_perm=DISCOVERY_PERMUTATIONS, depth=DISCOVERY_DEPTH, seed=step.params["seed"])
    sdir = study.step_dir(step)
    sdir.mkdir(parents=True, exist_ok=True)
    graph.write_json(sdir / "graph.json")
    png = graph.plot(sdir / "graph.png", title="PC with the KNN-CMI test")
    out = {"n_rows": int(rows.size), "rows_dropped_missing": int(ds.n - ok.size),
           "left_out": {"a variable missing": int(ds.n - ok.size),
                        f"beyond the {DISCOVERY_MAX_ROWS} sampled rows": int(ok.size - rows.size)},
           "vars": names, "edges": [e["text"] for e in graph.to_dict()["edges"]], "figure": str(png)}
    dag_path = study.dataset_path / "truth_dag.json"
    if dag_path.exists():
        out["score"] = score_graph(graph, json.loads(dag_path.read_text()))
    return out


def _fmt(x, digits=3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}g}"


def causal_section(study: Study, summaries: list[dict]) -> Section:
    sufficiency = latent_sufficiency(study)
    rows = []
    for s in summaries:
        paper, cal = s["paper"], s["calibrated"] or {}
        verdict = sufficiency.get(s["input_set"], {}).get("verdict", UNMEASURED)
        rows.append([s["question"], s["k"], _fmt(paper["mean_r"]), _fmt(paper["mean_r_perm"]),
                     _fmt(cal.get("mean_r")), _fmt(cal.get("effect_size")), _fmt(cal.get("global_pvalue")),
                     _fmt(cal.get("frac_p_below_alpha")), cal.get("n_reject_bh", "n/a"),
                     regression_cell(cal), cal.get("verdict", "n/a"),
                     NOT_SUFFICIENT if verdict == INSUFFICIENT else verdict])
    sec = Section("Causal analysis in the latent space", [
        "Among the k nearest training galaxies in a model's latent space S, the model treats galaxies as the same; "
        "a remaining dependence between log M* and a query variable X_q means information outside the model's input. "
        "'Paper' columns: the local Pearson correlation and its within-neighbourhood permutation baseline "
        "(Zhang, Lin, Ting et al. 2025); this baseline ignores how S still varies inside a neighbourhood and so "
        "over-flags. 'Calibrated' columns: the same local correlation after removing what S (and the conditioning "
        "variable) predicts of log M* and X_q by cross-fitted regression, with permutation p-values: the "
        "whole-sample p-value (one per question), the fraction of galaxies with p ≤ 0.05 (about 0.05 under the null) "
        "and the number of galaxies kept by Benjamini–Hochberg at 5%. 'Regression': the held-out share of each "
        "residual (log M*, X_q) still predictable from S; above 0.05 the row reads 'regression inadequate: not "
        "interpretable' instead of a verdict (docs/causal.md). "
        "A test in S can only find what the inputs lack if S keeps all they say about log M*: the last column "
        "compares the latent model's validation cross-entropy with that of a cross-entropy model of the same "
        f"inputs, and a latent more than {SUFFICIENCY_MARGIN_NATS} nats per galaxy behind is marked "
        f"'{NOT_SUFFICIENT}'."],
        tables=[TableBlock(["question", "k", "paper r", "paper baseline", "calibrated r", "effect size (σ)",
                            "whole-sample p", "frac p ≤ 0.05", "BH discoveries", "regression R² (y, x)",
                            "verdict", "latent"], rows)])
    for s in summaries:
        sec.figures.append(Figure(Path(s["figure"]),
                                  f"{s['question']}: mean local correlations in bins of log M* (left) and the fraction "
                                  "of galaxies whose calibrated test has p ≤ 0.05 (right; the dashed line is the rate "
                                  "expected with no dependence)."))
    return sec


def discover_section(study: Study, summaries: list[dict]) -> Section:
    s = summaries[0]
    paras = [f"The PC algorithm (causal-learn) with our KNN conditional-mutual-information test, at α = {ALPHA}, "
             f"conditioning sets of at most {DISCOVERY_DEPTH} variables, over {len(s['vars'])} catalogue variables "
             f"and {s['n_rows']} galaxies: {len(s['edges'])} edges. "
             "Edge marks: '-->' oriented, '---' undetermined."]
    tables = [TableBlock(["edge"], [[e] for e in s["edges"]])]
    if "score" in s:
        sp = s["score"]
        paras.append(
            "Scored against the mock's known graph projected onto these variables (a -> b when a causes b through "
            "unobserved variables only; pairs sharing an unobserved cause, such as two measurements of one image, "
            f"count as adjacent): adjacency precision {_fmt(sp['adjacency_precision'])}, recall "
            f"{_fmt(sp['adjacency_recall'])}, structural Hamming distance {sp['shd']} against "
            f"{sp['n_true_edges']} true adjacencies.")
    return Section("Causal discovery over catalogue variables", paras, tables,
                   [Figure(Path(s["figure"]), "The graph found by PC over the catalogue variables.")])


def latent_covers(input_set: str) -> set[str]:
    """Catalogue columns a model's inputs determine (its magnitudes, z; images stand for their bands' fluxes)."""
    iset = parse_inputs(input_set)
    cols = set(iset.required_columns)
    if iset.has_images:
        cols |= {f"mag_{b}" for b in iset.image_bands}
    return cols


def designed_answer_applies(expect: dict, target: str, question: dict) -> bool:
    """Whether a designed answer of truth_dag.json says what the local test ``question`` must find.

    ``question`` has ``query``, ``given`` and ``input_set`` (the latent model's inputs). A latent S that
    keeps all the target information of its inputs makes the target independent of X given S when
    it is independent of X given those inputs (contraction); conditioning on a variable outside the
    inputs (e.g. z for an ``M_ugriz`` latent) breaks that, since S was not trained to be sufficient
    given it. So a designed independence applies only when its conditioning set and the question's
    extra variable lie inside the inputs; a designed dependence applies when catalogue inputs and the
    extra variable cover its conditioning set (not to image inputs, which determine more than it).
    """
    if expect.get("y") != target or expect.get("x") != question["query"]:
        return False
    given = expect.get("given")
    if given == "any":
        return True
    inputs = latent_covers(question["input_set"])
    extra = {question["given"]} if question["given"] else set()
    if expect["independent"]:
        return set(given) <= inputs and extra <= inputs
    # A dependence given G need not survive conditioning on more than G: images determine every
    # measured shape (ab_*, r50_*), which can block the path, so it applies to catalogue inputs only.
    return set(given) <= inputs | extra and not parse_inputs(question["input_set"]).has_images


def designed_expectations(truth: dict, target: str, question: dict) -> list[tuple[str, dict]]:
    """``(answer name, expectation)`` for every designed answer of ``truth`` that applies to ``question``.

    At most one expectation per answer: the first of its ``expect`` list that applies
    (:func:`designed_answer_applies`).
    """
    found = []
    for name, answer in truth.get("designed_answers", {}).items():
        expects = answer["expect"] if isinstance(answer["expect"], list) else [answer["expect"]]
        e = next((e for e in expects if designed_answer_applies(e, target, question)), None)
        if e is not None:
            found.append((name, e))
    return found


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control): reject where adjusted <= alpha."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


SUFFICIENT = "sufficient"
INSUFFICIENT = "not sufficient"
COMPARATOR_LOOSE = "comparator not converged"
UNMEASURED = "not measured"


def sufficiency_verdict(val_ce_latent: float, comparators: dict[str, float] | float,
                        margin: float = SUFFICIENCY_MARGIN_NATS) -> dict:
    """Is a latent sufficient? Two-sided, against the tightest comparator.

    ``val_ce_latent``: validation cross-entropy (nats per galaxy) of the latent model;
    ``comparators``: that of every cross-entropy model of the same inputs, by name (a float: one,
    named ``ce``). The gap is latent minus the tightest (lowest) comparator. Above ``margin`` the
    latent lost information: "not sufficient". Below ``-margin`` the latent beats every comparator,
    so the comparator is loose and certifies nothing: "comparator not converged" (``sufficient`` is
    None, as when either side is missing). Only a gap within the margin reads "sufficient".
    """
    if not isinstance(comparators, dict):
        comparators = {"ce": comparators}
    known = {k: float(v) for k, v in comparators.items() if v is not None and math.isfinite(v)}
    best = min(known, key=known.get) if known else None
    ce = known[best] if best else math.nan
    gap = val_ce_latent - ce
    if not math.isfinite(gap):
        verdict, sufficient = UNMEASURED, None
    elif gap > margin:
        verdict, sufficient = INSUFFICIENT, False
    elif gap < -margin:
        verdict, sufficient = COMPARATOR_LOOSE, None
    else:
        verdict, sufficient = SUFFICIENT, True
    return {"val_ce_latent": val_ce_latent, "val_ce_ce": ce, "comparator": best, "comparators": known,
            "gap_nats": gap if math.isfinite(gap) else None, "margin_nats": margin,
            "sufficient": sufficient, "verdict": verdict}


def _val_ce(metrics: dict | None) -> float:
    val = (metrics or {}).get("val") or {}
    return -float(val["mean_log_q_true"]) if "mean_log_q_true" in val else math.nan


def latent_sufficiency(study: Study) -> dict[str, dict]:
    """:func:`sufficiency_verdict` of every latent model of the study, by input set, against every
    cross-entropy model of the same inputs the study has (the information model: dedicated, or an
    amortised network's prediction, fine-tuned where the study fine-tunes; and a dedicated audit
    model where the tightness audit trains one), each named by how it was made."""
    latent_ce: dict[str, float] = {}
    comparators: dict[str, dict[str, float]] = {}
    for s in study.steps:
        if s.name not in study.summaries or (s.kind == "model" and s.params.get("amortised")):
            continue  # an amortised network has no metrics of its own: its 'subset' steps have them
        if s.kind not in ("model", "external", "subset", "audit"):
            continue
        inputs, ce = s.params["inputs"], _val_ce(study.summaries[s.name].get("metrics"))
        if s.kind != "subset" and s.params.get("objective") == "scl":
            latent_ce[inputs] = ce
            continue
        made = {"model": "dedicated ce", "external": "external", "audit": "dedicated ce (audit)",
                "subset": "fine-tuned amortised ce" if s.params.get("finetune") else "amortised ce"}[s.kind]
        comparators.setdefault(inputs, {})[made] = ce
    return {latent: sufficiency_verdict(latent_ce.get(latent, math.nan), comparators.get(latent, {}))
            for latent in study.cfg.latent_models}


def _undecided_reason(verdict: bool | str | None) -> str | None:
    """Why a latent's causal rows are undecided (None: they are decided)."""
    if verdict is False or verdict == INSUFFICIENT:
        return NOT_SUFFICIENT
    if verdict == COMPARATOR_LOOSE:
        return f"{COMPARATOR_LOOSE}: the latent is not certified"
    return None


def decide_truth_panel(causal: list[dict], truth: dict, sufficient: dict[str, bool | str | None],
                       alpha: float = ALPHA) -> list[dict]:
    """Check each causal summary against the designed answers of ``truth`` that apply to it.

    Decisions control the family-wise error over the panel: the whole-sample p-values of the
    questions with a designed answer and an interpretable latent are Holm-adjusted together, and a
    question is 'dependent' where the adjusted p is <= ``alpha``. A question whose latent is not
    sufficient (``sufficient[input_set]`` False or "not sufficient"), or whose sufficiency comparator
    is loose ("comparator not converged"), is undecided: ``right`` is None, never True. A
    question without a p-value (no neighbourhood had enough valid galaxies) leaves the family and is
    wrong: the designed answer was not reproduced.
    """
    target = truth.get("target", "logmstar")
    rows = [(s, name, e) for s in causal if s.get("calibrated")
            for name, e in designed_expectations(truth, target, s)]

    def tested(s: dict) -> bool:
        p = s["calibrated"]["global_pvalue"]
        return p is not None and math.isfinite(p)

    def inadequate(s: dict) -> bool:  # the regression diagnostic of the test family failed
        return s["calibrated"].get("verdict") == INADEQUATE

    decided = sorted({s["question"] for s, _, _ in rows
                      if tested(s) and not inadequate(s) and _undecided_reason(sufficient.get(s["input_set"])) is None})
    pvals = {q: next(s["calibrated"]["global_pvalue"] for s, _, _ in rows if s["question"] == q) for q in decided}
    adjusted = {q: float(a) for q, a in zip(decided, holm([pvals[q] for q in decided]), strict=True)}
    checks = []
    for s, name, e in rows:
        p = s["calibrated"]["global_pvalue"]
        row = {"answer": name, "test": f"calibrated local test: {s['question']}",
               "expected": "independent" if e["independent"] else "dependent", "p": p,
               "p_holm": adjusted.get(s["question"]), "latent_sufficient": sufficient.get(s["input_set"])}
        reason = _undecided_reason(sufficient.get(s["input_set"]))
        if reason is not None:
            row.update(found=f"undecided ({reason}; p = {_fmt(p, 2)})", right=None)
        elif inadequate(s):  # undecided, never right: the residuals were not learned well enough
            row.update(found=f"undecided ({INADEQUATE}; p = {_fmt(p, 2)})", right=None)
        elif not tested(s):  # no p-value: the designed answer was not reproduced (wrong, not undecided)
            row.update(found="not tested (no neighbourhood had enough valid galaxies)", right=False)
        else:
            dependent = adjusted[s["question"]] <= alpha
            row.update(found=f"{'dependent' if dependent else 'independent'} (p = {_fmt(p, 2)}, "
                             f"Holm-adjusted {_fmt(adjusted[s['question']], 2)})",
                       right=bool(dependent != e["independent"]))
        checks.append(row)
    return checks


def truth_check_causal(study: Study | None, by_kind: dict, truth: dict) -> list[dict]:
    """The truth panel of the study's causal steps (:func:`decide_truth_panel`)."""
    sufficient = {} if study is None else {k: v["verdict"] for k, v in latent_sufficiency(study).items()}
    return decide_truth_panel(by_kind.get("causal", []), truth, sufficient)
