"""Cross-fitted regression of variables on the latent S, for residual-based local tests.

Out-of-fold predictions: each point is predicted by a network that never saw it, so the
residual noise of Y and of X_q are not fitted into each other (cross-fitting, as in double
machine learning). The network is a small MLP (2 hidden layers, SiLU) on standardised inputs and
targets, trained with Adam and early stopping on a 10% inner validation split; seeded.
"""

from __future__ import annotations

import logging

import numpy as np

from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = ["crossfit_predict"]


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
