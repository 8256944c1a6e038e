"""Calibration and power of the local tests and of the KNN-CMI test (prints tables).

Synthetic null (the trap): S ~ N(0, I_16); Y = f(S) + 0.4 e1 and X_q = g(S) + 0.5 e2 with
nonlinear f, g sharing directions of S, so Y ⟂ X_q | S while both vary inside a neighbourhood.
Alternative: Y gets an extra ``+ beta * X_q`` (dependence beyond S).

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/local_test_calibration.py [--reps 200]
Sections: (1) per-galaxy rejection at alpha=0.05, n=20,000, k=100, paper's raw test vs the
calibrated test, null and alternative; (2) whole-sample p-values over replicates (smaller n) with a
KS test against uniform; (3) KNN-CMI test p-values over replicates on a chain null; (4) speed of
the paper-style test on synthetic neighbour lists up to 500k galaxies x k=100.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy import stats

from galinfo.causal.cmi import cmi_knn_test
from galinfo.causal.local import calibrated_local_test, paper_local_test


def make_null(n: int, seed: int, beta: float = 0.0, d: int = 16):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, d))
    u, v, w = s[:, 0], s[:, 1], s[:, :4].sum(axis=1) * 0.5
    g = np.tanh(1.5 * u) + 0.5 * np.sin(2 * w) + 0.3 * v
    x_q = g + 0.5 * rng.normal(size=n)
    f = np.sin(2 * u) + 0.5 * u * v + 0.4 * w
    y = f + 0.4 * rng.normal(size=n) + beta * x_q
    return s.astype(np.float32), y, x_q


def neighbours(s: np.ndarray, k: int) -> np.ndarray:
    try:
        from galinfo.knn.search import knn_search

        return knn_search(s, s, k)[1]  # a training galaxy's list includes itself (as the paper)
    except ImportError:
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=k).fit(s).kneighbors(s)[1]


def section1(n: int, k: int, n_perm: int, beta: float) -> None:
    print(f"\n(1) per-galaxy tests, n={n}, k={k}, {n_perm} permutations, alpha=0.05")
    print(f"{'data':12s} {'test':26s} {'mean r':>8s} {'frac p<=.05':>12s} {'BH rejects':>10s} "
          f"{'global p':>9s} {'seconds':>8s}")
    for label, b in (("null", 0.0), (f"alt b={beta}", beta)):
        s, y, x_q = make_null(n, seed=1, beta=b)
        nb = neighbours(s, k)
        t0 = time.perf_counter()
        paper = paper_local_test(nb, y, x_q)
        t_paper = time.perf_counter() - t0
        print(f"{label:12s} {'paper r (perm baseline)':26s} {np.nanmean(paper.r):8.3f} "
              f"{'-':>12s} {'-':>10s} {'-':>9s} {t_paper:8.1f}   baseline r={np.nanmean(paper.r_perm):.3f}")
        for name, kw in (("paper r + perm p-value", {"residuals": (y, x_q)}),
                         ("calibrated (cross-fit)", {"latent": s})):
            t0 = time.perf_counter()
            res = calibrated_local_test(nb, y, x_q, n_perm=n_perm, n_perm_global=n_perm, **kw)
            dt = time.perf_counter() - t0
            sm = res.summary()
            print(f"{label:12s} {name:26s} {sm['mean_r']:8.3f} {sm['frac_p_below_alpha']:12.3f} "
                  f"{sm['n_reject_bh']:10d} {sm['global_pvalue']:9.3f} {dt:8.1f}")


def section2(reps: int, n: int, k: int, n_perm: int, beta: float) -> None:
    print(f"\n(2) whole-sample p-value of the calibrated test over {reps} null replicates "
          f"(n={n}, k={k}, {n_perm} permutations)")
    pg, frac, t0 = [], [], time.perf_counter()
    for rep in range(reps):
        s, y, x_q = make_null(n, seed=1000 + rep)
        res = calibrated_local_test(neighbours(s, k), y, x_q, latent=s, n_perm=n_perm,
                                    n_perm_global=n_perm, seed=rep)
        pg.append(res.global_pvalue)
        frac.append(res.summary()["frac_p_below_alpha"])
        if rep % 20 == 19:
            print(f"  ... {rep + 1} replicates, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    pg = np.array(pg)
    ks = stats.kstest(pg, "uniform")
    powers = []
    for rep in range(min(reps, 20)):
        s, y, x_q = make_null(n, seed=5000 + rep, beta=beta)
        res = calibrated_local_test(neighbours(s, k), y, x_q, latent=s, n_perm=n_perm,
                                    n_perm_global=n_perm, seed=rep)
        powers.append(res.global_pvalue <= 0.05)
    print(f"{'figure':44s} {'value':>10s}  compared with")
    print(f"{'KS p-value of global p vs uniform':44s} {ks.pvalue:10.3f}  > 0.01 required")
    print(f"{'fraction global p <= 0.05 (null)':44s} {np.mean(pg <= 0.05):10.3f}  0.05 nominal")
    print(f"{'mean per-galaxy fraction p <= 0.05 (null)':44s} {np.mean(frac):10.3f}  <= 0.08 required")
    print(f"{'power, global p <= 0.05, beta=' + str(beta):44s} {np.mean(powers):10.3f}  "
          f"({len(powers)} replicates)")
    print(f"{'seconds':44s} {time.perf_counter() - t0:10.1f}")


def section3(reps: int, n: int, n_perm: int) -> None:
    print(f"\n(3) KNN-CMI test over {reps} replicates (n={n}, k=10, {n_perm} local permutations)")
    p_null, p_alt, t0 = [], [], time.perf_counter()
    for rep in range(reps):
        rng = np.random.default_rng(rep)
        x = rng.normal(size=n)
        z = np.tanh(x) + 0.5 * rng.normal(size=n)  # chain X -> Z -> Y
        y = z**2 + 0.5 * rng.normal(size=n)
        p_null.append(cmi_knn_test(x, y, z, k=10, n_perm=n_perm, seed=rep).pvalue)
        if rep < min(reps, 50):
            y_alt = y + 0.3 * x
            p_alt.append(cmi_knn_test(x, y_alt, z, k=10, n_perm=n_perm, seed=rep).pvalue)
        if rep % 20 == 19:
            print(f"  ... {rep + 1} replicates, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    p_null = np.array(p_null)
    print(f"{'figure':44s} {'value':>10s}  compared with")
    print(f"{'KS p-value of null p vs uniform':44s} {stats.kstest(p_null, 'uniform').pvalue:10.3f}  > 0.01 required")
    print(f"{'fraction p <= 0.05 (null)':44s} {np.mean(p_null <= 0.05):10.3f}  0.05 nominal")
    print(f"{'power, p <= 0.05, Y += 0.3 X':44s} {np.mean(np.array(p_alt) <= 0.05):10.3f}  ({len(p_alt)} replicates)")
    print(f"{'seconds':44s} {time.perf_counter() - t0:10.1f}")


def section4(sizes: list[int], k: int) -> None:
    print(f"\n(4) paper-style local test (r, baseline, efficiency), k={k}, random neighbour lists")
    print(f"{'n galaxies':>10s} {'seconds':>8s} {'us/galaxy':>10s}")
    for n in sizes:
        rng = np.random.default_rng(0)
        y, x_q = rng.normal(size=n), rng.normal(size=n)
        nb = rng.integers(0, n, size=(n, k), dtype=np.int64)
        t0 = time.perf_counter()
        paper_local_test(nb, y, x_q)
        dt = time.perf_counter() - t0
        print(f"{n:10d} {dt:8.1f} {1e6 * dt / n:10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n-small", type=int, default=2000)
    ap.add_argument("--k-small", type=int, default=50)
    ap.add_argument("--n-perm", type=int, default=100)
    ap.add_argument("--beta", type=float, default=0.15)
    ap.add_argument("--sections", default="1234")
    ap.add_argument("--sizes", default="100000,500000")
    a = ap.parse_args()
    if "1" in a.sections:
        section1(20_000, 100, a.n_perm, a.beta)
    if "2" in a.sections:
        section2(a.reps, a.n_small, a.k_small, a.n_perm, a.beta)
    if "3" in a.sections:
        section3(a.reps, 500, a.n_perm)
    if "4" in a.sections:
        section4([int(v) for v in a.sizes.split(",")], 100)


if __name__ == "__main__":
    main()
