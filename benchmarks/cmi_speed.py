"""Speed of galinfo's KNN-CMI test against tigramite's CMIknn (same n, k, permutations).

Data: z ~ N(0, I_16) (a 16-d conditioning block, as a latent S); x = tanh(z0) + 0.5 e,
y = sin(z0) + 0.5 e (+ 0.5 x for the alternative). Both tests use k=10, 5 local-permutation
neighbours, rank transform, max-norm.

tigramite at large n takes minutes per CMI estimate, so it is timed with few permutations
(``--tig-perm``) and extrapolated linearly to the full count (each permutation costs one CMI
estimate, like the observed statistic): extrapolated = t(B) * (n_perm + 1) / (B + 1). The
decision comparison runs both tests with the full permutation count at a smaller n
(``--n-decide``).

tigramite's cmiknn module imports numba only for two ``@jit(forceobj=True)`` decorators (object
mode: plain Python speed); when numba is not installed we register a no-op stand-in so that the
module imports. This changes nothing in what tigramite computes.

Run:  .venv/bin/python benchmarks/cmi_speed.py [--sizes 5000,20000] [--n-perm 200]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import types

import numpy as np

from galinfo.causal.cmi import cmi_knn_test


def _tigramite():
    if "numba" not in sys.modules and importlib.util.find_spec("numba") is None:
        stub = types.ModuleType("numba")
        stub.jit = lambda *a, **k: (lambda f: f)
        sys.modules["numba"] = stub
    from tigramite.independence_tests.cmiknn import CMIknn

    return CMIknn


def make(n: int, seed: int, alt: bool):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 16))
    x = np.tanh(z[:, 0]) + 0.5 * rng.normal(size=n)
    y = np.sin(z[:, 0]) + 0.5 * rng.normal(size=n) + (0.5 * x if alt else 0.0)
    return x, y, z


def run_tig(x, y, z, n_perm: int, seed: int):
    cmiknn = _tigramite()(knn=10, shuffle_neighbors=5, significance="shuffle_test",
                          sig_samples=n_perm, transform="ranks", seed=seed)
    t0 = time.perf_counter()
    out = cmiknn.run_test_raw(x[:, None], y[:, None], z)
    return out[0], out[1], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,20000")
    ap.add_argument("--n-perm", type=int, default=200)
    ap.add_argument("--tig-perm", default="3,0", help="tigramite permutations timed per size")
    ap.add_argument("--n-decide", type=int, default=2000)
    ap.add_argument("--decide-perm", type=int, default=100)
    a = ap.parse_args()
    sizes = [int(v) for v in a.sizes.split(",")]
    tig_perm = [int(v) for v in a.tig_perm.split(",")]

    print(f"speed: k=10, k_perm=5, 16-d z, {a.n_perm} permutations (null data)")
    print(f"{'n':>7s} {'galinfo s':>10s} {'tigramite s':>12s} {'tig measured':>13s} {'speed-up':>9s}")
    for n, bt in zip(sizes, tig_perm, strict=True):
        x, y, z = make(n, 0, alt=False)
        t0 = time.perf_counter()
        ours = cmi_knn_test(x, y, z, k=10, n_perm=a.n_perm, seed=0)
        t_ours = time.perf_counter() - t0
        if bt > 0:
            _, _, t_b = run_tig(x, y, z, bt, 0)
            measured = f"{bt} perm"
        else:  # only the observed estimate: one CMI
            cmiknn = _tigramite()(knn=10, shuffle_neighbors=5, transform="ranks", seed=0)
            arr = np.vstack([x[None], y[None], z.T])
            xyz = np.array([0, 1] + [2] * 16)
            t1 = time.perf_counter()
            cmiknn.get_dependence_measure(arr, xyz)
            t_b = time.perf_counter() - t1
            measured = "1 estimate"
        t_tig = t_b * (a.n_perm + 1) / (bt + 1)
        print(f"{n:7d} {t_ours:10.1f} {t_tig:12.0f} {measured:>13s} {t_tig / t_ours:9.1f}x"
              f"   (galinfo cmi={ours.cmi:.4f} p={ours.pvalue:.3f}, exact fallbacks {ours.n_exact})",
              flush=True)

    n = a.n_decide
    print(f"\ndecisions at n={n}, {a.decide_perm} permutations each, alpha=0.05")
    print(f"{'data':6s} {'galinfo cmi':>11s} {'p':>6s} {'s':>6s} {'tigramite cmi':>13s} {'p':>6s} {'s':>6s} {'same':>5s}")
    for label, alt in (("null", False), ("alt", True)):
        x, y, z = make(n, 1, alt)
        t0 = time.perf_counter()
        ours = cmi_knn_test(x, y, z, k=10, n_perm=a.decide_perm, seed=0)
        t_ours = time.perf_counter() - t0
        v, p, t_tig = run_tig(x, y, z, a.decide_perm, 0)
        same = (ours.pvalue <= 0.05) == (p <= 0.05)
        print(f"{label:6s} {ours.cmi:11.4f} {ours.pvalue:6.3f} {t_ours:6.1f} {v:13.4f} {p:6.3f} {t_tig:6.1f} {str(same):>5s}",
              flush=True)


if __name__ == "__main__":
    main()
