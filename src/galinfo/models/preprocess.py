"""Input preprocessing: image transform, seeded augmentation, tabular standardisation, flux normalisation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from galinfo.data.validate import require_finite
from galinfo.errors import DataValidationError

NORM_FLUX_CLIP_PERCENTILE = 1.0
"""Petrosian fluxes are clipped from below at this percentile of the training fluxes (per band)
before dividing, so that a few faint or broken magnitudes cannot blow up a normalised image."""


def signed_log(x: torch.Tensor) -> torch.Tensor:
    """The paper's image transform ``sign(x) * ln(1 + |x|)`` (nanomaggies/pixel in, dimensionless out)."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random k*90 degree rotation and random horizontal flip per image, drawn from ``generator``.

    Returns a new tensor; the input is not modified. The draws are made on the CPU so that the same
    generator state gives the same augmentation on every device.
    """
    n = images.shape[0]
    k = torch.randint(0, 4, (n,), generator=generator)
    flip = torch.randint(0, 2, (n,), generator=generator).bool()
    out = images.clone()
    for r in range(1, 4):
        sel = (k == r).nonzero(as_tuple=True)[0].to(images.device)
        if len(sel):
            out[sel] = torch.rot90(out[sel], r, dims=(-2, -1))
    sel = flip.nonzero(as_tuple=True)[0].to(images.device)
    if len(sel):
        out[sel] = torch.flip(out[sel], dims=(-1,))
    return out


@dataclass
class Standardiser:
    """Per-feature standardisation with train-split mean and std (stored in the checkpoint)."""

    mean: np.ndarray
    std: np.ndarray
    columns: tuple[str, ...] = ()

    @classmethod
    def fit(cls, x: np.ndarray, columns: tuple[str, ...] = ()) -> Standardiser:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise DataValidationError(f"tabular features must be 2-D, got shape {x.shape}")
        if x.shape[1] == 0:
            return cls(np.zeros(0), np.ones(0), tuple(columns))
        require_finite(x, "the tabular features of the training split")
        std = x.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # constant column: centre only
        return cls(x.mean(axis=0), std, tuple(columns))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(n, T) raw features -> standardised float32."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1] != len(self.mean):
            raise DataValidationError(
                f"expected {len(self.mean)} tabular features ({', '.join(self.columns)}), got {x.shape[1]}"
            )
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, d: dict) -> Standardiser:
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64), tuple(d["columns"]))


def flux_floor(train_flux: np.ndarray) -> np.ndarray:
    """Per-band lower clip of the Petrosian flux (nanomaggies) from the training split."""
    flux = np.asarray(train_flux, dtype=np.float64)
    return np.nanpercentile(np.where(flux > 0, flux, np.nan), NORM_FLUX_CLIP_PERCENTILE, axis=0)


def normalise_images(images: np.ndarray, petro_flux: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """``I_*_norm``: each band divided by the galaxy's Petrosian flux in that band.

    ``images`` (n, C, H, W) nanomaggies/pixel, ``petro_flux`` (n, C) nanomaggies, ``floor`` (C,).
    The result is multiplied by the number of pixels H*W so that a flux spread evenly over the cutout
    is 1 per pixel (keeps values in the range where ``signed_log`` is not linear).
    """
    flux = np.maximum(np.asarray(petro_flux, dtype=np.float64), floor[None, :])
    require_finite(flux, "the Petrosian flux of a normalised image input")
    n_pix = images.shape[-1] * images.shape[-2]
    return (images / flux[:, :, None, None] * n_pix).astype(np.float32)
