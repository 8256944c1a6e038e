"""Turning a :class:`~galinfo.data.dataset.Dataset` into model inputs (tensors), for one input set.

Galaxies with a missing feature of the input set are left out (the count is logged and kept in
``ModelData.n_incomplete``). Targets outside the bin range are excluded from training and get
``log_q_true = NaN`` at prediction, again with a count.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import torch

from galinfo.data.binning import TargetBins
from galinfo.data.inputs import InputSet, parse_inputs
from galinfo.data.validate import in_range
from galinfo.errors import DataValidationError
from galinfo.models.preprocess import Standardiser, flux_floor, normalise_images, signed_log

log = logging.getLogger(__name__)

DEFAULT_MAX_IMAGE_MEMORY_GB = 8.0


@dataclass
class InputSpec:
    """How raw dataset values become model inputs (stored in the checkpoint)."""

    input_set: str
    feature_columns: tuple[str, ...]
    standardiser: Standardiser
    image_bands: tuple[str, ...] = ()
    image_norm: bool = False
    image_size: int = 0
    flux_floor: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {
            "input_set": self.input_set,
            "feature_columns": list(self.feature_columns),
            "standardiser": self.standardiser.to_dict(),
            "image_bands": list(self.image_bands),
            "image_norm": self.image_norm,
            "image_size": self.image_size,
            "flux_floor": None if self.flux_floor is None else self.flux_floor.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(
            input_set=d["input_set"],
            feature_columns=tuple(d["feature_columns"]),
            standardiser=Standardiser.from_dict(d["standardiser"]),
            image_bands=tuple(d["image_bands"]),
            image_norm=bool(d["image_norm"]),
            image_size=int(d["image_size"]),
            flux_floor=None if d["flux_floor"] is None else np.asarray(d["flux_floor"], dtype=np.float64),
        )

    @property
    def n_model_tabular(self) -> int:
        """Width of the network's tabular input."""
        return len(self.feature_columns)

    @classmethod
    def fit(cls, ds, input_set: InputSet | str, train_rows: np.ndarray) -> InputSpec:
        """Feature columns, train-split standardiser and flux floor for ``input_set`` on ``ds``."""
        iset = parse_inputs(input_set)
        if iset.has_images and not ds.has_images:
            raise DataValidationError(f"input set {iset.name} needs images; dataset {ds.path} has none")
        cols = ds.feature_columns(iset)
        std = Standardiser.fit(ds.features(iset, train_rows), cols)
        floor = None
        if iset.image_norm:
            floor = flux_floor(ds.petrosian_flux(train_rows, iset.image_bands))
        size = int(ds.image_shape[-1]) if iset.has_images else 0
        return cls(iset.name, cols, std, iset.image_bands, iset.image_norm, size, floor)

    def tabular(self, ds, rows: np.ndarray) -> np.ndarray:
        """Standardised tabular features (float32, (n, T)) of ``rows``."""
        if self.feature_columns:
            missing = [c for c in self.feature_columns if c not in ds.catalog.colnames]
            if missing:
                raise DataValidationError(f"dataset {ds.path} lacks feature column(s) {', '.join(missing)}")
            raw = np.stack([ds.column(c, rows) for c in self.feature_columns], axis=1)
            if not np.isfinite(raw).all():
                bad = [c for j, c in enumerate(self.feature_columns) if not np.isfinite(raw[:, j]).all()]
                raise DataValidationError(f"missing values in feature column(s) {', '.join(bad)}")
        else:
            raw = np.zeros((len(rows), 0))
        return self.standardiser.transform(raw)

    def images(self, ds, rows: np.ndarray) -> np.ndarray:
        """Preprocessed images (float32, (n, C, H, W)): flux-normalised if ``_norm``, then signed log."""
        img = ds.images(rows, bands=self.image_bands)
        if self.image_norm:
            img = normalise_images(img, ds.petrosian_flux(rows, self.image_bands), self.flux_floor)
        return signed_log(torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))).numpy()


def usable_rows(ds, input_set: InputSet | str) -> tuple[np.ndarray, int]:
    """Rows with every feature of the input set present, and the number left out."""
    iset = parse_inputs(input_set)
    rows = ds.complete_rows(iset)
    if iset.image_norm:
        flux_ok = np.ones(len(rows), dtype=bool)
        for b in iset.image_bands:
            flux_ok &= np.isfinite(ds.column(f"mag_{b}", rows))
        rows = rows[flux_ok]
    n_out = ds.n - len(rows)
    if n_out:
        log.warning("input set %s: %d of %d galaxies lack a feature and are left out", iset.name, n_out, ds.n)
    return rows.astype(np.int64), n_out


def target_bins_of(ds, column: str, bins: TargetBins, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, bin index or -1 where the value is missing / outside the bin range)."""
    y = ds.column(column, rows)
    ok = in_range(y, bins.low, bins.high)
    idx = np.full(len(y), -1, dtype=np.int64)
    idx[ok] = bins.index(y[ok], column=column)
    return y, idx


def auto_image_memory_gb(fraction: float = 0.4) -> float:
    """``fraction`` of the physical memory, in GB (8 GB where it cannot be read)."""
    try:
        return fraction * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
    except (ValueError, OSError, AttributeError):
        return DEFAULT_MAX_IMAGE_MEMORY_GB


class ImageSource:
    """Preprocessed images of a set of rows, in memory when they fit, else read per batch."""

    def __init__(self, ds, spec: InputSpec, rows: np.ndarray, max_memory_gb: float = 0.0):
        self.ds, self.spec, self.rows = ds, spec, rows
        c = len(spec.image_bands)
        nbytes = len(rows) * c * spec.image_size**2 * 4
        if max_memory_gb <= 0:
            max_memory_gb = auto_image_memory_gb()
        self.cube: torch.Tensor | None = None
        if nbytes <= max_memory_gb * 1e9:
            parts = []
            step = 4096
            for start in range(0, len(rows), step):
                parts.append(spec.images(ds, rows[start : start + step]))
            self.cube = torch.from_numpy(np.concatenate(parts) if parts else np.zeros((0, c, spec.image_size, spec.image_size), np.float32))
        else:
            log.info("image cube of %.1f GB exceeds %.1f GB: reading batches from HDF5", nbytes / 1e9, max_memory_gb)

    @classmethod
    def from_tensor(cls, cube: torch.Tensor) -> ImageSource:
        """An in-memory source over an already preprocessed cube (benchmarks, tests)."""
        src = cls.__new__(cls)
        src.ds, src.spec, src.rows, src.cube = None, None, np.arange(len(cube)), cube
        return src

    def to(self, device: torch.device, max_fraction: float = 0.5) -> None:
        """Move the in-memory cube to ``device`` when it takes less than ``max_fraction`` of free memory."""
        if self.cube is None or device.type != "cuda":
            return
        free, _ = torch.cuda.mem_get_info(device)
        if self.cube.numel() * 4 < max_fraction * free:
            self.cube = self.cube.to(device)

    def get(self, idx: torch.Tensor) -> torch.Tensor:
        """Images of positions ``idx`` (into ``rows``)."""
        if self.cube is not None:
            return self.cube[idx.to(self.cube.device)]
        return torch.from_numpy(self.spec.images(self.ds, self.rows[idx.cpu().numpy()]))


@dataclass
class ModelData:
    """Model inputs for a set of dataset rows."""

    rows: np.ndarray
    tab: torch.Tensor
    images: ImageSource | None
    y: np.ndarray
    y_bin: torch.Tensor
    # amortised models (galinfo.models.amortised): the group masker, (n, G) availability of each
    # input group, and optionally a fixed (n, G) mask (validation, prediction of one subset)
    masker: object | None = None
    avail: torch.Tensor | None = None
    fixed_mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def inputs(self, idx: torch.Tensor, image: torch.Tensor | None, device: torch.device,
               mask_gen: torch.Generator | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The network's (image, tabular) inputs of positions ``idx`` given their (augmented) images.

        Dedicated models take the tabular features as they are. Amortised models get the fixed mask
        of the rows, or masks drawn from ``mask_gen``, limited to the groups each galaxy has.
        """
        tab = self.tab[idx.to(self.tab.device)].to(device, non_blocking=True)
        if self.masker is None:
            return image, tab
        if self.fixed_mask is not None:
            mask = self.fixed_mask[idx]
        else:
            if mask_gen is None:
                raise ValueError("an amortised model needs fixed masks or a mask generator")
            from galinfo.models.amortised import sample_masks

            spec_focus = self.masker.focus
            mask = sample_masks(mask_gen, len(idx), self.masker.layout.n_groups, spec_focus, self.masker.p_focus)
        return self.masker.apply(image, tab, mask & self.avail[idx])

    def subset(self, mask: np.ndarray) -> ModelData:
        pos = np.flatnonzero(mask)
        images = self.images
        if images is not None:
            sub = ImageSource.__new__(ImageSource)
            sub.ds, sub.spec, sub.rows = images.ds, images.spec, images.rows[pos]
            sub.cube = None if images.cube is None else images.cube[torch.from_numpy(pos).to(images.cube.device)]
            images = sub
        t = torch.from_numpy(pos)
        return ModelData(self.rows[pos], self.tab[t], images, self.y[pos], self.y_bin[t], self.masker,
                         None if self.avail is None else self.avail[t],
                         None if self.fixed_mask is None else self.fixed_mask[t])


def model_data(ds, spec: InputSpec, rows: np.ndarray, target: str, bins: TargetBins, *, max_memory_gb: float = 0.0) -> ModelData:
    """Tensors for ``rows`` of ``ds`` (tabular standardised, images preprocessed, target binned)."""
    tab = torch.from_numpy(spec.tabular(ds, rows))
    images = ImageSource(ds, spec, rows, max_memory_gb) if spec.image_bands else None
    y, y_bin = target_bins_of(ds, target, bins, rows)
    return ModelData(rows, tab, images, y, torch.from_numpy(y_bin))
