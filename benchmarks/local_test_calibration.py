"""Null battery of the causal tests: calibration and power on hard nulls (prints tables).

Every family draws a 16-d latent S, a target Y and a query X_q with Y ⟂ X_q | S by construction,
and an alternative (``beta`` > 0: Y gets ``+ beta * X_q``, dependence beyond S):

- ``smooth``: today's null (tanh / sin of shared directions of S, Gaussian noise);
- ``shared_step``: Y and X_q jump at the same threshold of the same direction of S (non-smooth);
- ``interaction``: Y and X_q both depend on products of coordinates of S;
- ``hetero_t``: both noises are Student-t (3 dof) with one scale that changes with S;
- ``binary``: X_q is 0/1 with a probability that depends on S (classifier residuals);
- ``clustered``: S is 25 tight clusters; Y and X_q depend on the cluster (a discrete S);
- ``model_mean``: S is the hidden layer of a small MLP trained on (X_in, Y), E[Y | S] is its own
  in-sample head (the model-mean path of ``local_tests``), X_q = g(S) + noise (alternative: Y
  gets ``beta`` times that noise).

For each family: ``--replicates`` replicates at ``--n`` (default 2,000; k = 100) give the
whole-sample rejection rate of the calibrated local test and of the GCM test at alpha = 0.05 (raw,
and as verdicts: a replicate marked "not interpretable" by the regression diagnostic is not a
rejection), the mean per-galaxy fraction p <= 0.05, the KS p of the whole-sample p-values against
uniform, and power on ``--power-replicates`` alternatives; then one null and one alternative at
``--n-large`` (default 10,000); ``--extra-nulls K`` adds K more nulls per family at ``--n-large``
(``--replicates 0`` runs only those). Then the KNN-CMI test with a 16-d z on the smooth null.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/local_test_calibration.py \
        [--replicates 100] [--families smooth,binary] [--n 2000] [--n-large 10000]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy import stats

from galinfo.causal.citest import (
    CalibratedLocalTest,
    LocalPermutationNull,
    PermutationNull,
    gcm_statistic,
)
from galinfo.causal.cmi import cmi_knn_test

D = 16
ALPHA = 0.05


def _base(n: int, seed: int) -> tuple[np.random.Generator, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(n, D))


def smooth(n: int, seed: int, beta: float = 0.0) -> dict:
    rng, s = _base(n, seed)
    u, v, w = s[:, 0], s[:, 1], s[:, :4].sum(axis=1) * 0.5
    x = np.tanh(1.5 * u) + 0.5 * np.sin(2 * w) + 0.3 * v + 0.5 * rng.normal(size=n)
    y = np.sin(2 * u) + 0.5 * u * v + 0.4 * w + 0.4 * rng.normal(size=n) + beta * x
    return {"s": s, "y": y, "x": x}


def shared_step(n: int, seed: int, beta: float = 0.0) -> dict:
    rng, s = _base(n, seed)
    u = s[:, 2]
    step = (u > 0.3).astype(float) - (u < -0.8)
    x = 1.2 * step + 0.3 * s[:, 3] + 0.5 * rng.normal(size=n)
    y = 1.5 * step + 0.4 * np.abs(u) + 0.3 * s[:, 4] + 0.5 * rng.normal(size=n) + beta * x
    return {"s": s, "y": y, "x": x}


def interaction(n: int, seed: int, beta: float = 0.0) -> dict:
    rng, s = _base(n, seed)
    a, b = s[:, 0] * s[:, 1], s[:, 2] * s[:, 3]
    x = 0.8 * a + 0.4 * b + 0.5 * rng.normal(size=n)
    y = 0.8 * a - 0.4 * b + 0.3 * s[:, 4] + 0.5 * rng.normal(size=n) + beta * x
    return {"s": s, "y": y, "x": x}


def hetero_t(n: int, seed: int, beta: float = 0.0) -> dict:
    rng, s = _base(n, seed)
    scale = 0.35 * np.exp(0.6 * s[:, 0])
    x = 0.5 * s[:, 1] + scale * rng.standard_t(3, size=n)
    y = 0.5 * s[:, 1] + 0.3 * s[:, 2] + scale * rng.standard_t(3, size=n) + beta * x
    return {"s": s, "y": y, "x": x}


def binary(n: int, seed: int, beta: float = 0.0) -> dict:
    rng, s = _base(n, seed)
    p = 1.0 / (1.0 + np.exp(-(2.0 * s[:, 0] + np.sin(2 * s[:, 1]))))
    x = (rng.random(n) < p).astype(float)
    y = np.sin(2 * s[:, 0]) + 0.5 * s[:, 1] + 0.5 * rng.normal(size=n) + beta * x
    return {"s": s, "y": y, "x": x}


def clustered(n: int, seed: int, beta: float = 0.0) -> dict:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(25, D)) * 2.0
    a, b = rng.normal(size=25), rng.normal(size=25)
    c = rng.integers(0, 25, size=n)
    s = centres[c] + 0.05 * rng.normal(size=(n, D))
    x = a[c] + 0.5 * b[c] + 0.5 * rng.normal(size=n)
    y = a[c] - b[c] + 0.5 * rng.normal(size=n) + beta * x
    return {"s": s, "y": y, "x": x}


def model_mean(n: int, seed: int, beta: float = 0.0) -> dict:
    """A small latent model: MLP X_in (16-d) -> 16 hidden units (S) -> Y; head(S) = E[Y | S]."""
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(seed)
    x_in = rng.normal(size=(n, D))
    y = np.sin(1.5 * x_in[:, 0]) + 0.5 * x_in[:, 1] * x_in[:, 2] + 0.3 * x_in[:, 3] + 0.4 * rng.normal(size=n)
    net = MLPRegressor(hidden_layer_sizes=(32, D), max_iter=300, early_stopping=True,
                       learning_rate_init=3e-3, random_state=seed).fit(x_in, y)
    h = x_in
    for w_, b_ in zip(net.coefs_[:-1], net.intercepts_[:-1], strict=True):
        h = np.maximum(h @ w_ + b_, 0.0)
    s = h  # the latent S: last hidden layer (ReLU)
    head = net.predict(x_in)  # in-sample E[Y | S] for these (training) galaxies
    noise = 0.5 * rng.normal(size=n)
    x = np.tanh(head) + 0.3 * s[:, 0] / (s[:, 0].std() + 1e-9) + noise
    # alternative: Y gets beta times the part of X_q that S does not hold, so head(S) stays E[Y | S]
    return {"s": s, "y": y + beta * noise, "x": x, "y_pred": head}


FAMILIES = {f.__name__: f for f in (smooth, shared_step, interaction, hetero_t, binary, clustered,
                                    model_mean)}
BETA = {"smooth": 0.15, "shared_step": 0.15, "interaction": 0.15, "hetero_t": 0.3, "binary": 0.3,
        "clustered": 0.15, "model_mean": 0.15}


def neighbours(s: np.ndarray, k: int) -> np.ndarray:
    """k nearest rows in S of every row, itself included (as the paper)."""
    from galinfo.knn.search import knn_search

    return knn_search(np.asarray(s, dtype=np.float32), np.asarray(s, dtype=np.float32), k)[1]


def one(d: dict, k: int, n_perm: int, seed: int, null: str = "global") -> dict:
    """Calibrated local test (whole-sample null: global or local permutations of the X_q
    residuals) and the GCM statistic of its residuals on one draw."""
    whole = PermutationNull(n_perm) if null == "global" else LocalPermutationNull(n_perm)
    loc = CalibratedLocalTest(k=k, n_perm_local=n_perm, null=whole, seed=seed)
    res = loc.run(d["x"], d["y"], d["s"], neighbours=neighbours(d["s"], k), y_pred=d.get("y_pred"))
    # the GCM test on the same cross-fitted residuals (what GCMTest computes, without refitting)
    p_gcm = 2 * stats.norm.sf(abs(gcm_statistic(res.local["residual_y"], res.local["residual_xq"])))
    return {"p": res.pvalue, "frac": res.extra["frac_p_below_alpha"], "ok": res.interpretable,
            "p_gcm": p_gcm, "ok_gcm": res.interpretable, "r2": max(res.diagnostic.r2_y, res.diagnostic.r2_x),
            "cross": res.diagnostic.cross}


def battery(families: list[str], reps: int, power_reps: int, n: int, n_large: int, k: int,
            n_perm: int, null: str = "global") -> None:
    print(f"\nNull battery: n={n}, k={k}, {reps} null replicates and {power_reps} alternative "
          f"replicates per family, {n_perm} permutations ({null} whole-sample null), alpha={ALPHA}; "
          f"single runs at n={n_large}")
    head = (f"{'family':12s} {'rej':>6s} {'rej(v)':>6s} {'galaxy':>7s} {'KS p':>6s} {'gcm':>6s} "
            f"{'gcm(v)':>6s} {'KS gcm':>6s} {'n.i.':>5s} {'r2 max':>7s} {'power':>6s} {'pw gcm':>6s} "
            f"{'beta':>5s} | {'p@L':>6s} {'gcm@L':>6s} {'verdict@L':>10s} {'alt p@L':>7s} {'s':>5s}")
    rows, null_kind = [], null
    for fam in families:
        make, beta, t0 = FAMILIES[fam], BETA[fam], time.perf_counter()
        null = [one(make(n, 1000 + r, 0.0), k, n_perm, r, null_kind) for r in range(reps)]
        alt = [one(make(n, 5000 + r, beta), k, n_perm, r, null_kind) for r in range(power_reps)]
        big = one(make(n_large, 77, 0.0), k, n_perm, 0, null_kind)
        big_alt = one(make(n_large, 78, beta), k, n_perm, 0, null_kind)
        p = np.array([r["p"] for r in null])
        pg = np.array([r["p_gcm"] for r in null])
        ok = np.array([r["ok"] for r in null])
        okg = np.array([r["ok_gcm"] for r in null])
        verdict_l = "n.i." if not big["ok"] else ("dependent" if big["p"] <= 0.01 else "indep.")
        rows.append(
            f"{fam:12s} {np.mean(p <= ALPHA):6.3f} {np.mean((p <= ALPHA) & ok):6.3f} "
            f"{np.mean([r['frac'] for r in null]):7.3f} {stats.kstest(p, 'uniform').pvalue:6.3f} "
            f"{np.mean(pg <= ALPHA):6.3f} {np.mean((pg <= ALPHA) & okg):6.3f} "
            f"{stats.kstest(pg, 'uniform').pvalue:6.3f} {np.mean(~ok):5.2f} "
            f"{np.max([r['r2'] for r in null]):7.3f} "
            f"{np.mean([r['p'] <= ALPHA and r['ok'] for r in alt]) if alt else float('nan'):6.2f} "
            f"{np.mean([r['p_gcm'] <= ALPHA and r['ok_gcm'] for r in alt]) if alt else float('nan'):6.2f} "
            f"{beta:5.2f} | {big['p']:6.3f} {big['p_gcm']:6.3f} {verdict_l:>10s} {big_alt['p']:7.3f} "
            f"{time.perf_counter() - t0:5.0f}")
        print(f"  ... {fam}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        print(head if len(rows) == 1 else "", end="\n" if len(rows) == 1 else "")
        print(rows[-1], flush=True)


def extra_nulls(families: list[str], draws: int, n_large: int, k: int, n_perm: int) -> None:
    """More single nulls at ``n_large`` per family (seeds 201, 202, ...): the spread of their p."""
    print(f"\nMore nulls at n={n_large}: {draws} draws per family (seeds 201-{200 + draws}), {n_perm} permutations")
    print(f"{'family':12s} {'min p':>6s} {'max p':>6s} {'p<=0.01':>7s} {'p<=0.05':>7s} {'galaxy rates':>13s} {'n.i.':>4s}")
    for fam in families:
        runs = [one(FAMILIES[fam](n_large, 201 + i, 0.0), k, n_perm, 201 + i) for i in range(draws)]
        p, frac = np.array([r["p"] for r in runs]), np.array([r["frac"] for r in runs])
        print(f"{fam:12s} {p.min():6.3f} {p.max():6.3f} {np.sum(p <= 0.01):7d} {np.sum(p <= ALPHA):7d} "
              f"{frac.min():6.3f}-{frac.max():.3f} {sum(not r['ok'] for r in runs):4d}", flush=True)


def cmi_section(n: int, reps: int, n_perm: int) -> None:
    print(f"\nKNN-CMI test with a 16-d z (smooth null, n={n}, {reps} replicates): dispatch to GCM")
    p = [cmi_knn_test(d["x"], d["y"], d["s"], k=10, n_perm=n_perm, seed=r).pvalue
         for r, d in ((r, smooth(n, 3000 + r)) for r in range(reps))]
    p_alt = [cmi_knn_test(d["x"], d["y"], d["s"], k=10, n_perm=n_perm, seed=r).pvalue
             for r, d in ((r, smooth(n, 4000 + r, 0.15)) for r in range(min(reps, 10)))]
    print(f"fraction p <= 0.05 (null) {np.mean(np.array(p) <= ALPHA):.3f}; min p {np.min(p):.3f}; "
          f"KS p {stats.kstest(p, 'uniform').pvalue:.3f}; power (Y += 0.15 X_q) "
          f"{np.mean(np.array(p_alt) <= ALPHA):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--power-replicates", type=int, default=20)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n-large", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--n-perm", type=int, default=100)
    ap.add_argument("--cmi-replicates", type=int, default=20)
    ap.add_argument("--extra-nulls", type=int, default=0,
                    help="more single nulls per family at --n-large (seeds 201, 202, ...); 0: none")
    ap.add_argument("--null", choices=("global", "local"), default="global",
                    help="whole-sample null of the local test: global or local (Runge) permutations")
    a = ap.parse_args()
    fams = [f.strip() for f in a.families.split(",") if f.strip()]
    unknown = [f for f in fams if f not in FAMILIES]
    if unknown:
        ap.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if fams and a.replicates:
        battery(fams, a.replicates, a.power_replicates, a.n, a.n_large, a.k, a.n_perm, a.null)
    if fams and a.extra_nulls:
        extra_nulls(fams, a.extra_nulls, a.n_large, a.k, a.n_perm)
    if a.cmi_replicates:
        cmi_section(a.n, a.cmi_replicates, a.n_perm)


if __name__ == "__main__":
    main()
