"""Cross-fitted regression of variables on the latent S, for the residual-based tests.

Out-of-fold predictions: each point is predicted by models that never saw it, so the residual
noise of Y and of X_q are not fitted into each other (cross-fitting, as in double machine
learning).

- :func:`crossfit_mean` (used by :mod:`galinfo.causal.citest`): scikit-learn ``cross_val_predict``
  over an ensemble of a ridge regression on quadratic + random Fourier features (smooth, oblique
  and product structure; penalty by efficient leave-one-out) and histogram gradient-boosted trees
  (steps, clusters), blended per target on the out-of-fold error; a tree classifier gives
  E[code | S] of a binary or categorical query.
- :func:`crossfit_repeats`: repeated cross-fits of each target with fold partitions of its own, and
  :func:`stability_weights` from their spread (down-weighting galaxies where the regressions are
  unstable, e.g. next to a jump both targets share).
- :func:`crossfit_predict`: the earlier small torch MLP (2 hidden layers, SiLU, Adam, early
  stopping), kept for :func:`galinfo.causal.local.calibrated_local_test`.
"""

from __future__ import annotations

import logging

import numpy as np

from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = ["crossfit_predict", "crossfit_mean", "crossfit_repeats", "stability_weights", "best_blend",
           "is_categorical", "MAX_CATEGORIES", "STABILITY_SCALE"]


def crossfit_predict(features: np.ndarray, targets: np.ndarray, *, folds: int = 5,
                     hidden: int = 64, max_epochs: int = 80, patience: int = 6,
                     batch_size: int | None = None, lr: float = 3e-3, weight_decay: float = 1e-4,
                     seed: int = 0) -> np.ndarray:
    """Out-of-fold MLP predictions of ``targets`` (n, m) from ``features`` (n, d).

    Returns float64 (n, m) in the units of ``targets``. Rows must be finite (mask NaN first).
    """
    import torch

    x = np.asarray(features, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    if t.ndim == 1:
        t = t[:, None]
    if x.ndim != 2 or t.shape[0] != x.shape[0]:
        raise DataValidationError(f"features {x.shape} and targets {t.shape} do not align")
    if not (np.isfinite(x).all() and np.isfinite(t).all()):
        raise DataValidationError("crossfit_predict: features or targets contain NaN/inf")
    if folds < 2:
        raise ConfigError(f"folds must be >= 2, got {folds}")
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % folds
    xs = x.std(axis=0)
    xs[xs == 0] = 1.0
    ts = t.std(axis=0)
    ts[ts == 0] = 1.0
    X = torch.tensor((x - x.mean(axis=0)) / xs, dtype=torch.float32)
    T = torch.tensor((t - t.mean(axis=0)) / ts, dtype=torch.float32)
    out = np.empty_like(t)
    for f in range(folds):
        train = np.flatnonzero(fold != f)
        test = np.flatnonzero(fold == f)
        train = train[rng.permutation(train.size)]
        n_val = max(train.size // 10, 1)
        val, fit = train[:n_val], train[n_val:]
        torch.manual_seed(seed * 1000 + f)
        gen = torch.Generator().manual_seed(seed * 1000 + f)
        net = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], hidden), torch.nn.SiLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
            torch.nn.Linear(hidden, T.shape[1]),
        )
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
        xf, tf, xv, tv = X[fit], T[fit], X[val], T[val]
        # at least ~32 steps per epoch on small samples
        bs = batch_size or int(np.clip(fit.size // 32, 32, 512))
        best, best_state, stale = np.inf, None, 0
        for _ in range(max_epochs):
            order = torch.randperm(fit.size, generator=gen)
            for s in range(0, fit.size, bs):
                i = order[s:s + bs]
                opt.zero_grad()
                loss = ((net(xf[i]) - tf[i]) ** 2).mean()
                loss.backward()
                opt.step()
            with torch.no_grad():
                v = float(((net(xv) - tv) ** 2).mean())
            if v < best - 1e-4:
                best, stale = v, 0
                best_state = {k: p.clone() for k, p in net.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    break
        net.load_state_dict(best_state)
        with torch.no_grad():
            out[test] = net(X[test]).numpy().astype(np.float64)
        log.debug("crossfit fold %d: validation MSE %.4f (standardised)", f, best)
    return out * ts + t.mean(axis=0)


# ----------------------------------------------------------------------------- robust residuals
#: a query with at most this many distinct integer values is treated as categorical
MAX_CATEGORIES = 10


def is_categorical(values: np.ndarray) -> bool:
    """True when ``values`` (finite, 1-D) take at most :data:`MAX_CATEGORIES` integer values."""
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all(v == np.round(v)) and np.unique(v).size <= MAX_CATEGORIES)


def _members(categorical: bool, seed: int) -> list:
    """The ensemble: ridge regression on quadratic features (products of coordinates) and random
    Fourier features (smooth, oblique structure), its penalty chosen by efficient leave-one-out, and gradient-boosted
    trees (steps, clusters, axis-aligned structure); a tree classifier for a categorical target."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.kernel_approximation import RBFSampler
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    tree_kw = {"max_iter": 100, "learning_rate": 0.2, "max_leaf_nodes": 15, "early_stopping": True,
               "validation_fraction": 0.15, "n_iter_no_change": 8, "random_state": seed}
    features = make_union(PolynomialFeatures(2, include_bias=False),
                          RBFSampler(gamma=RFF_GAMMA, n_components=RFF_FEATURES, random_state=seed))
    ridge = make_pipeline(StandardScaler(), features,
                          RidgeCV(alphas=np.logspace(-3, 3, 13), gcv_mode="svd"))
    if categorical:  # class probabilities from the trees; the ridge fits E[code | S] directly
        return [HistGradientBoostingClassifier(**tree_kw), ridge]
    return [ridge, HistGradientBoostingRegressor(**tree_kw)]


#: random Fourier features of the ridge member, and their RBF kernel's gamma on standardised inputs
RFF_FEATURES = 200
RFF_GAMMA = 0.03


def best_blend(target: np.ndarray, predictions: list[np.ndarray],
               grid: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Convex blend of out-of-fold ``predictions`` with the smallest squared error against ``target``.

    Weights on the simplex grid of step ``1/grid``. Returns (blended prediction, weights): a few
    weights chosen on n out-of-fold points, a negligible in-sample effect.
    """
    import itertools

    preds = np.stack(predictions, axis=1)
    m = preds.shape[1]
    best_err, best_w = np.inf, None
    for c in itertools.product(range(grid + 1), repeat=m):
        if sum(c) != grid:
            continue
        w = np.asarray(c, dtype=np.float64) / grid
        err = np.mean((target - preds @ w) ** 2)
        if err < best_err:
            best_err, best_w = err, w
    return preds @ best_w, best_w


def crossfit_mean(features: np.ndarray, targets: np.ndarray, *, folds: int = 5, seed: int = 0,
                  categorical: list[bool] | None = None) -> np.ndarray:
    """Cross-fitted E[target | features] of each column of ``targets`` ((n,) or (n, m)), in its units.

    Each point is predicted by models that never saw it (scikit-learn ``cross_val_predict``,
    shuffled ``KFold`` seeded by ``seed``). Members (:func:`_members`): a random-Fourier-feature
    ridge fitted to all columns at once (penalty per column) and gradient-boosted trees per column,
    blended per column by :func:`best_blend`. A categorical column (``categorical=None``:
    :func:`is_categorical`) gets a tree classifier, predicting the expected code
    sum_c c P(c | features) (a 0/1 query: its probability). Returns the shape of ``targets``.
    """
    from sklearn.model_selection import KFold, cross_val_predict

    x = np.asarray(features, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    one = t.ndim == 1
    t = t[:, None] if one else t
    if x.ndim != 2 or t.ndim != 2 or t.shape[0] != x.shape[0]:
        raise DataValidationError(f"features {x.shape} and targets {t.shape} do not align")
    if not (np.isfinite(x).all() and np.isfinite(t).all()):
        raise DataValidationError("crossfit_mean: features or targets contain NaN/inf")
    if folds < 2:
        raise ConfigError(f"folds must be >= 2, got {folds}")
    cats = [is_categorical(c) for c in t.T] if categorical is None else list(categorical)
    cv = KFold(folds, shuffle=True, random_state=seed)
    mu, sd = t.mean(axis=0), t.std(axis=0)
    sd[sd == 0] = 1.0
    ridge = _members(False, seed)[0]
    ridge.set_params(ridgecv__alpha_per_target=t.shape[1] > 1)
    ridge_pred = cross_val_predict(ridge, x, (t - mu) / sd, cv=cv).reshape(t.shape) * sd + mu
    out = np.empty_like(t)
    for j, cat in enumerate(cats):
        col = t[:, j]
        if cat:
            classes, codes = np.unique(col, return_inverse=True)
            if classes.size < 2:
                out[:, j] = col
                continue
            tree = _members(True, seed)[0]
            tree_pred = cross_val_predict(tree, x, codes, cv=cv, method="predict_proba") @ classes
        else:
            tree = _members(False, seed)[1]
            tree_pred = cross_val_predict(tree, x, (col - mu[j]) / sd[j], cv=cv) * sd[j] + mu[j]
        out[:, j], weights = best_blend(col, [ridge_pred[:, j], tree_pred])
        log.debug("crossfit_mean column %d (%s): blend weights ridge/trees %s", j,
                  "categorical" if cat else "numeric", weights)
    return out[:, 0] if one else out


def crossfit_repeats(features: np.ndarray, targets: np.ndarray, *, repeats: int = 2, folds: int = 5,
                     seed: int = 0, categorical: list[bool] | None = None) -> np.ndarray:
    """``repeats`` independent cross-fits of E[target | features], (repeats, n, m), in target units.

    Every (column, repeat) gets a fold partition and member seeds of its own
    (``SeedSequence([seed, column, repeat])``), so the fits of different targets do not share
    which galaxies sit in which fold. The mean over repeats is the cross-fitted mean; the spread
    over repeats measures how unstable each galaxy's prediction is (:func:`stability_weights`).
    """
    t = np.asarray(targets, dtype=np.float64)
    t = t[:, None] if t.ndim == 1 else t
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    cats = [None] * t.shape[1] if categorical is None else [[c] for c in categorical]
    out = np.empty((repeats, t.shape[0], t.shape[1]))
    for j in range(t.shape[1]):
        for r in range(repeats):
            sub = int(np.random.SeedSequence([seed, j, r]).generate_state(1)[0] % (2**31 - 1))
            out[r, :, j] = crossfit_mean(features, t[:, j], folds=folds, seed=sub, categorical=cats[j])
    return out


#: a galaxy whose repeat-to-repeat spread is this many times the median spread gets weight 1/2 (per target)
STABILITY_SCALE = 2.0


def stability_weights(fits: np.ndarray, scale: float = STABILITY_SCALE) -> np.ndarray:
    """Per-galaxy weights in (0, 1] from repeated cross-fits ``fits`` (repeats, n, m).

    w_i = prod_j 1 / (1 + (s_ij / (scale * median_i s_ij))^2), s_ij the standard deviation of
    galaxy i's prediction of target j over the repeats. Regression errors are largest, and line
    up between targets, where the fits are unstable (next to a jump both targets share); the
    weights depend only on the fits, not on a galaxy's own values, so a test on weighted
    residuals keeps its null. One repeat, or a target whose median spread is 0, gives weight 1.
    """
    fits = np.asarray(fits, dtype=np.float64)
    if fits.ndim != 3:
        raise DataValidationError(f"fits must be (repeats, n, m), got shape {fits.shape}")
    if scale <= 0:
        raise ConfigError(f"stability scale must be > 0, got {scale}")
    w = np.ones(fits.shape[1])
    if fits.shape[0] < 2:
        return w
    spread = fits.std(axis=0, ddof=1)
    for s in spread.T:
        med = np.median(s)
        if med > 0:
            w /= 1.0 + (s / (scale * med)) ** 2
    return w
