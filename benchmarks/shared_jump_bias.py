"""Aligned regression errors at a shared jump: why the ``shared_step`` null over-rejects (prints a table).

On the null battery's ``shared_step`` family (Y and X_q jump at the same thresholds of one
coordinate of a 16-d S; Y ⟂ X_q | S), the true E[Y | S] and E[X_q | S] are known, so the bias that
the two regressions add can be measured: sqrt(n) mean(e_f e_g) / sd(e_Y e_X), with e_f, e_g the
errors of the cross-fitted means (the shift it gives a GCM z-score). For each way of computing the
residuals the table gives that bias, the mean effect of the calibrated test's whole-sample statistic
((mean studentized t - null mean) / null sd, 100 global permutations), its rejection rate at
alpha = 0.05, and the MSE of both regressions, on the battery's own replicates (seeds 1000 + r)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/shared_jump_bias.py [--replicates 40] [--jobs 2]

Rows: the true means (oracle); one ``crossfit_mean`` of both targets (ridge + histogram trees, one
fold partition for both: the residualisation before stability weights); the same with a partition
per target; ridge + exact-split trees (depth 4, rate 0.3); the same with a partition per target and
2 averaged repeats (the candidate of docs/causal.md, "Shared jumps"); two cross-fits per target,
their mean, without and with the stability weights (galinfo's default, what ``CalibratedLocalTest``
uses). With weights w, the test sees sqrt(w) e and the bias is sqrt(n) mean(w e_f e_g) / sd(w e_Y e_X).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from galinfo.causal import regress
from galinfo.causal.citest import _mean_local_t
from local_test_calibration import neighbours, shared_step

N_PERM = 100
ALPHA = 0.05


def true_means(s: np.ndarray) -> np.ndarray:
    """E[Y | S] and E[X_q | S] of ``shared_step`` (its construction, without the noise)."""
    u = s[:, 2]
    step = (u > 0.3).astype(float) - (u < -0.8)
    return np.stack([1.5 * step + 0.4 * np.abs(u) + 0.3 * s[:, 4], 1.2 * step + 0.3 * s[:, 3]], axis=1)


def exact_trees(seed: int) -> list:
    from sklearn.ensemble import GradientBoostingRegressor

    return [regress._members(False, seed)[0],
            GradientBoostingRegressor(max_depth=4, n_estimators=300, learning_rate=0.3,
                                      validation_fraction=0.15, n_iter_no_change=8, random_state=seed)]


def blended(members, s: np.ndarray, col: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold blend of ``members(seed)`` for one target (5 shuffled folds seeded by ``seed``)."""
    from sklearn.model_selection import KFold, cross_val_predict

    cv = KFold(5, shuffle=True, random_state=seed)
    mu, sd = col.mean(), col.std()
    preds = [cross_val_predict(m, s, (col - mu) / sd, cv=cv) * sd + mu for m in members(seed)]
    return regress.best_blend(col, preds)[0]


def per_target(fit, repeats: int = 1):
    """``fit(s, col, seed)`` on each target with a partition of its own, averaged over ``repeats``."""
    def run(s, t, seed):
        return np.stack([np.mean([fit(s, t[:, j], seed + 7919 * j + 104729 * r) for r in range(repeats)], axis=0)
                         for j in range(t.shape[1])], axis=1)
    return run


def repeated(weighted: bool):
    """Two cross-fits per target (``crossfit_repeats``), their mean, and the stability weights."""
    def run(s, t, seed):
        fits = regress.crossfit_repeats(s, t, repeats=2, seed=seed)
        return fits.mean(axis=0), regress.stability_weights(fits) if weighted else None
    return run


VARIANTS = {
    "true means (oracle)": lambda s, t, seed: true_means(s),
    "ridge + histogram trees, one partition": lambda s, t, seed: regress.crossfit_mean(s, t, seed=seed),
    "the same, a partition per target": per_target(lambda s, c, seed: regress.crossfit_mean(s, c, seed=seed)),
    "ridge + exact trees (depth 4, rate 0.3)": lambda s, t, seed: np.stack(
        [blended(exact_trees, s, t[:, j], seed) for j in range(2)], axis=1),
    "exact trees, a partition per target, 2 repeats": per_target(
        lambda s, c, seed: blended(exact_trees, s, c, seed), repeats=2),
    "2 cross-fits per target, mean": repeated(False),
    "2 cross-fits per target, stability weights (default)": repeated(True),
}


def replicate(r: int, n: int) -> dict[str, tuple[float, float, float, float, float]]:
    """(effect, p, aligned-error bias z, MSE Y, MSE X_q) of every variant on replicate ``r``."""
    d = shared_step(n, 1000 + r)
    s, t = d["s"], np.stack([d["y"], d["x"]], axis=1)
    nb, truth = neighbours(s, 100), true_means(s)
    out = {}
    for name, fit in VARIANTS.items():
        pred = fit(s, t, r)
        pred, w = pred if isinstance(pred, tuple) else (pred, None)
        root = np.ones(n) if w is None else np.sqrt(w)
        ry, rx = root * (t[:, 0] - pred[:, 0]), root * (t[:, 1] - pred[:, 1])
        stat = _mean_local_t(nb, ry, rx, 10, 20_000)
        rng = np.random.default_rng(r)
        null = np.array([_mean_local_t(nb, ry, rx[rng.permutation(n)], 10, 20_000) for _ in range(N_PERM)])
        centre = null.mean()
        p = (1 + np.count_nonzero(np.abs(null - centre) >= abs(stat - centre))) / (1 + N_PERM)
        err = pred - truth
        bias = np.sqrt(n) * np.mean(root ** 2 * err[:, 0] * err[:, 1]) / np.std(ry * rx)
        out[name] = ((stat - centre) / null.std(), p, bias, np.mean(err[:, 0] ** 2), np.mean(err[:, 1] ** 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes over replicates (same numbers)")
    a = ap.parse_args()
    with ProcessPoolExecutor(a.jobs) as pool:
        reps = list(pool.map(replicate, range(a.replicates), [a.n] * a.replicates))
    print(f"shared_step, n={a.n}, k=100, {a.replicates} replicates, {N_PERM} permutations, alpha={ALPHA}")
    width = max(map(len, VARIANTS))
    print(f"{'residuals from':<{width}} | {'mean effect':>13} | {'rejection':>9} | {'bias (z)':>8} | "
          f"{'MSE Y / X_q':>13} | compared with")
    for name in VARIANTS:
        v = np.array([rep[name] for rep in reps])
        effect, se = v[:, 0].mean(), v[:, 0].std(ddof=1) / np.sqrt(len(v))
        print(f"{name:<{width}} | {effect:+6.2f} ± {se:4.2f} | {np.mean(v[:, 1] <= ALPHA):9.3f} | "
              f"{v[:, 2].mean():+8.2f} | {v[:, 3].mean():.3f} / {v[:, 4].mean():.3f} | "
              f"oracle row (same replicates); alpha {ALPHA}")


if __name__ == "__main__":
    main()
