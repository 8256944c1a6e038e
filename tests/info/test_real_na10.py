"""The decomposition on real galaxies (Nair & Abraham 2010), skipped when the catalogue is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from galinfo.data.binning import TargetBins
from galinfo.info import estimate_pointwise_mi, pid

NA10 = Path(__file__).resolve().parents[2] / "../shared/data/real/na10/Nair-Abraham-2010-edited-for-class-all.fits"

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def na10(tmp_path_factory):
    if not NA10.exists():
        pytest.skip(f"real NA10 catalogue not found at {NA10.resolve()} (../shared/data/real absent)")
    from galinfo.data.dataset import Dataset
    from galinfo.data.importers import import_na10

    return Dataset.open(import_na10(NA10, tmp_path_factory.mktemp("na10") / "na10"))


@pytest.mark.slow
def test_magnitudes_carry_mass_information_and_redshift_adds(na10):
    bins = TargetBins()
    rows = na10.complete_rows("M_ugriz|zspec")
    y_all = na10.column("logmstar", rows)
    rows = rows[(y_all >= bins.low) & (y_all <= bins.high)]
    rows = np.random.default_rng(0).choice(rows, size=3000, replace=False)
    y = na10.column("logmstar", rows)
    kw = {"bins": bins, "n_folds": 3, "max_epochs": 40, "patience": 5, "seed": 0}
    i = {m: estimate_pointwise_mi(na10.features(m, rows), y, **kw) for m in ("M_ugriz", "zspec", "M_ugriz|zspec")}
    # apparent magnitudes alone already constrain log M* (nats; a 0.5 dex-wide prior vs ~0.3 dex)
    assert i["M_ugriz"].mean() > 0.2
    # distance turns apparent into absolute magnitudes: the union must beat magnitudes alone
    assert i["M_ugriz|zspec"].mean() > i["M_ugriz"].mean() + 0.1
    atoms = pid(i["M_ugriz"], i["zspec"], i["M_ugriz|zspec"])
    assert np.mean(atoms["syn"]) > 0  # mass needs flux *and* distance
    np.testing.assert_allclose(sum(atoms.values()), i["M_ugriz|zspec"], atol=1e-12)
