"""Causal analysis on the mock survey, checked against its known graph (truth_dag.json).

1. Local tests in the latent spaces S of SCL models on ``M_ugriz`` and ``M_ugriz|zspec``: the designed
   answers of the mock (axis ratio carries stellar-mass information beyond photometry, and beyond
   photometry and z; position angle and a noise column do not; ``null_lum`` does not once mag_r and
   z are known), with the paper's raw test and the calibrated test side by side. The expected answer
   of each question comes from truth_dag.json through the study's rule
   (``galinfo.study.analyses.designed_expectations``).
2. PC (KNN-CMI test) and PC/FCI (Fisher-z) over catalogue variables, scored against the true graph
   projected onto those variables (structural Hamming distance, adjacency precision/recall).

    .venv/bin/python benchmarks/causal_mock.py [--n 5000 | --mock DIR] [--steps 12000] [--out benchmarks/out/causal_mock]

Generates the mock (``galinfo mock``) when ``--mock`` is not given and it is not in ``--out`` yet, and
trains the two latent models (about 10 minutes each on 2 cores at 20,000 galaxies).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

QUESTIONS = (  # (latent model inputs, query, given)
    ("M_ugriz", "ab_r", None),
    ("M_ugriz", "ab_r", "z"),
    ("M_ugriz", "null_noise", None),
    ("M_ugriz", "true_pa", None),
    ("M_ugriz|zspec", "ab_r", None),
    ("M_ugriz|zspec", "null_lum", None),
    ("M_ugriz|zspec", "null_noise", None),
)
VARS = ["logmstar", "z", "mag_r", "ab_r", "r50_r", "w1", "null_noise"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--mock", type=Path, help="an existing mock dataset (default: generate one in --out)")
    ap.add_argument("--steps", type=int, default=12000, help="SCL training steps (3000 leave S visibly insufficient)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/causal_mock"))
    args = ap.parse_args()

    from galinfo.causal.citest import INADEQUATE
    from galinfo.causal.discovery import discover, project_dag, score_graph
    from galinfo.causal.pipeline import catalogue_variable, local_tests, regression_cell
    from galinfo.data.dataset import Dataset
    from galinfo.mock import generate
    from galinfo.models import predict, train
    from galinfo.models.outputs import read_predictions
    from galinfo.study.analyses import designed_expectations

    data = args.mock or args.out / "mock"
    t0 = time.perf_counter()
    if not data.exists():
        generate(n=args.n, seed=args.seed, out=data, workers=2, resume=True)
    ds = Dataset.open(data)
    truth = json.loads((data / "truth_dag.json").read_text())
    preds = {}
    for inputs in dict.fromkeys(q[0] for q in QUESTIONS):
        run = args.out / f"scl_{inputs.replace('|', '_')}"
        train(data, run, inputs=inputs, objective="scl", preset="cpu-small", max_steps=args.steps, seed=args.seed)
        predict(run, data)
        preds[inputs] = read_predictions(run)
    print(f"mock of {ds.n} galaxies and SCL models {', '.join(preds)} ready in {time.perf_counter() - t0:.0f} s\n")

    print(f"{'question':<32}{'expected':>13}{'paper r':>9}{'baseline':>9}{'cal. r':>8}{'p (whole)':>10}"
          f"{'frac p<=.05':>12}{'R2 y,x':>12}{'found':>13}{'verdict':>9}")
    right = total = 0
    for inputs, query, given in QUESTIONS:
        q = {"input_set": inputs, "query": query, "given": given}
        answers = designed_expectations(truth, "logmstar", q)
        s = local_tests(preds[inputs], ds, query, given=given, k=100, seed=args.seed)
        cal = s["calibrated"]
        found = cal["verdict"]  # "dependent", "independent" or "regression inadequate: not interpretable"
        dependent = found == "dependent"
        label = f"{query} | S({inputs})" + (f", {given}" if given else "")
        expected, verdict, names = "(none)", "", ""
        if answers:
            independent = answers[0][1]["independent"]
            expected = "independent" if independent else "dependent"
            ok = found != INADEQUATE and dependent != independent
            verdict = "right" if ok else "WRONG"
            names = "   (" + ", ".join(n for n, _ in answers) + ")"
            right += ok
            total += 1
        print(f"{label:<32}{expected:>13}{s['paper']['mean_r']:>9.3f}"
              f"{s['paper']['mean_r_perm']:>9.3f}{cal['mean_r']:>8.3f}{cal['global_pvalue']:>10.3f}"
              f"{cal['frac_p_below_alpha']:>12.3f}{regression_cell(cal).split(' (')[0]:>12}"
              f"{'n.i.' if found == INADEQUATE else found:>13}{verdict:>9}{names}")
    print(f"{right} of {total} designed answers recovered by the calibrated test\n")

    directed, confounded = project_dag(truth, VARS)
    true_adj = {frozenset(e) for e in directed} | confounded
    values = np.stack([catalogue_variable(ds, v) for v in VARS], axis=1)
    rows = np.flatnonzero(np.isfinite(values).all(axis=1))
    rows = np.sort(np.random.default_rng(args.seed).choice(rows, min(1000, rows.size), replace=False))
    print(f"causal discovery over {len(VARS)} variables, {rows.size} galaxies; true projected graph: "
          f"{len(directed)} directed + {len(confounded)} confounded adjacencies")
    print(f"{'method':<24}{'edges':>6}{'adj. precision':>15}{'adj. recall':>12}{'SHD (directed)':>15}{'seconds':>9}")
    for method, test in (("pc", "knn_cmi"), ("pc", "fisherz"), ("fci", "fisherz")):
        t1 = time.perf_counter()
        g = discover(values[rows], VARS, method=method, test=test, alpha=0.05, k=10, n_perm=50, depth=2,
                     seed=args.seed)
        found = {frozenset((a, b)) for a, b, _, _ in g.edges}
        prec = len(found & true_adj) / len(found) if found else float("nan")
        rec = len(found & true_adj) / len(true_adj)
        shd = score_graph(g, directed)["shd"]
        print(f"{method + ' / ' + test:<24}{len(found):>6}{prec:>15.2f}{rec:>12.2f}{shd:>15}"
              f"{time.perf_counter() - t1:>9.0f}")


if __name__ == "__main__":
    main()
