"""Model-free cross-checks of a tuple's decomposition: the Gaussian-copula MMI and I_dep PIDs
(:func:`galinfo.info.gaussian.gaussian_copula_pid`) of the two source models' latent vectors about
the target, on the test galaxies both models predicted. Nats."""

from __future__ import annotations

import warnings

import numpy as np

from galinfo.errors import GalinfoWarning
from galinfo.models.outputs import Predictions

ROWS_PER_DIMENSION = 4


def copula_cross_check(pred1: Predictions, pred2: Predictions) -> dict | None:
    """``{n, mmi: atoms with i1, i2, i12, dep: atoms}`` (nats) for the test galaxies of both
    predictions (matched by objid); None when a model has no latent or they share fewer than
    ``ROWS_PER_DIMENSION`` galaxies per dimension of the joint latent (at least 50): a Gaussian fit of
    more dimensions than that is mostly noise, or singular."""
    if pred1.latent is None or pred2.latent is None:
        return None
    from galinfo.info.gaussian import gaussian_copula_pid

    t1 = pred1.mask("test") & np.isfinite(pred1.target) & pred1.predicted()  # one row per galaxy: NaN where
    t2 = pred2.mask("test") & np.isfinite(pred2.target) & pred2.predicted()  # an input is missing
    common, r1, r2 = np.intersect1d(pred1.objid[t1], pred2.objid[t2], assume_unique=True, return_indices=True)
    d = pred1.latent.shape[1] + pred2.latent.shape[1] + 1
    if common.size < max(50, ROWS_PER_DIMENSION * d):
        return None
    s1, s2 = pred1.latent[t1][r1], pred2.latent[t2][r2]
    with warnings.catch_warnings():  # a constant latent dimension is dropped: expected, not news here
        warnings.simplefilter("ignore", GalinfoWarning)
        res = gaussian_copula_pid(s1, s2, pred1.target[t1][r1])
    mmi = {k: float(v) for k, v in res.mmi.items()}
    return {"n": int(common.size), "mmi": mmi, "dep": None if res.dep is None else {k: float(v) for k, v in res.dep.items()}}
