import numpy as np
import pytest
import torch

from galinfo.errors import DataValidationError
from galinfo.models.preprocess import (
    Standardiser,
    augment,
    flux_floor,
    normalise_images,
    signed_log,
)


def test_signed_log_known_values_and_odd():
    x = torch.tensor([-np.e + 1, -1.0, 0.0, 1.0, np.e - 1], dtype=torch.float64)
    assert torch.allclose(signed_log(x), torch.tensor([-1.0, -np.log(2), 0.0, np.log(2), 1.0], dtype=torch.float64))


def test_augment_is_seeded_and_only_rotates_or_flips():
    g = torch.Generator().manual_seed(0)
    img = torch.randn(16, 2, 5, 5, generator=g)
    a = augment(img, torch.Generator().manual_seed(3))
    b = augment(img, torch.Generator().manual_seed(3))
    c = augment(img, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, img)  # input unchanged, output differs for some image
    for i in range(16):  # each output is one of the 8 symmetries of its input
        cands = [torch.rot90(img[i], k, dims=(-2, -1)) for k in range(4)]
        cands += [torch.flip(x, dims=(-1,)) for x in cands]
        assert any(torch.equal(a[i], x) for x in cands)


def test_standardiser_roundtrip_and_constant_column():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    st = Standardiser.fit(x, ("a", "b"))
    z = st.transform(x)
    assert np.allclose(z[:, 0].mean(), 0) and np.allclose(z[:, 0].std(), 1)
    assert np.allclose(z[:, 1], 0)
    st2 = Standardiser.from_dict(st.to_dict())
    assert np.array_equal(st2.transform(x), z)
    with pytest.raises(DataValidationError, match="expected 2"):
        st.transform(np.zeros((2, 3)))
    with pytest.raises(DataValidationError, match="non-finite"):
        Standardiser.fit(np.array([[np.nan], [1.0]]))


def test_normalise_images_divides_by_flux_and_clips_at_floor():
    img = np.ones((2, 1, 4, 4), np.float32)
    flux = np.array([[2.0], [1e-9]])
    floor = flux_floor(np.array([[0.5], [1.0], [2.0], [4.0]]))
    out = normalise_images(img, flux, floor)
    assert np.allclose(out[0], 16 / 2.0)  # H*W / flux
    assert np.allclose(out[1], 16 / floor[0])
