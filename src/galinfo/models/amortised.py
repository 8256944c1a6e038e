"""Amortised any-subset information models: one network per modality family gives q(y | x_A) for
every input set A that is a union of the family's *input groups*.

Input groups are the smallest units that can be switched off: one image band (``I_g``), one
magnitude with its error (``M_g``, ``M_W1``), one morphology band's four numbers (``Morph_r``) and
the spectroscopic redshift (``zspec``). E(B-V) is always given. During training every galaxy gets a
random group mask, drawn from a generator seeded by ``(seed, step)``; a masked group is replaced by
0 (after standardisation: the training mean) and the mask bits are inputs of the network. A group
that a galaxy lacks (a WISE non-detection, a failed morphology fit) is masked too.

Why the bound stays valid: the prediction for A depends on the galaxy only through ``x_A`` (masked
values are overwritten before the network, the mask is fixed by A, and no layer mixes galaxies of a
batch), so ``q(y | x_A)`` is a conditional density of y given x_A and ``E[ln q(y | x_A)] + H(Y)``
is a variational lower bound on I(Y; X_A), exactly as for a model trained on A alone. The test
``tests/models/test_amortised.py`` checks this by randomising every masked input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from galinfo.data.binning import TargetBins
from galinfo.data.inputs import InputSet, parse_inputs
from galinfo.errors import ConfigError, DataValidationError
from galinfo.models.data import ImageSource, InputSpec, ModelData, target_bins_of
from galinfo.models.preprocess import Standardiser, flux_floor

DEFAULT_P_FOCUS = 0.5
"""Share of training galaxies whose mask is one of the focus subsets (the rest: random subsets)."""


# ------------------------------------------------------------------------------------------------
# Groups and layout
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputGroup:
    """One switchable input: an image channel (``channel >= 0``) or tabular columns (indices)."""

    name: str
    channel: int = -1
    columns: tuple[int, ...] = ()


def _group_sets(family: InputSet) -> list[InputSet]:
    out = [InputSet(image_bands=(b,), image_norm=family.image_norm) for b in family.image_bands]
    out += [InputSet(mags=(m,)) for m in family.mags]
    out += [InputSet(morph_bands=(b,)) for b in family.morph_bands]
    if family.zspec:
        out.append(InputSet(zspec=True))
    return out


@dataclass(frozen=True)
class GroupLayout:
    """The groups of a family on a dataset: which image channel / tabular columns each one owns."""

    family: str
    image_bands: tuple[str, ...]
    image_norm: bool
    columns: tuple[str, ...]
    groups: tuple[InputGroup, ...]

    @classmethod
    def build(cls, family: InputSet | str, columns: Sequence[str]) -> GroupLayout:
        """Groups of ``family`` given its resolved tabular ``columns`` (E(B-V) belongs to none)."""
        fam = parse_inputs(family)
        columns = tuple(columns)
        groups = []
        for gset in _group_sets(fam):
            if gset.has_images:
                groups.append(InputGroup(gset.name, channel=fam.image_bands.index(gset.image_bands[0])))
                continue
            own = set(gset.required_columns) | set(gset.companion_columns) | set(gset.morph_columns)
            own.discard("ebv")
            idx = tuple(j for j, c in enumerate(columns) if c in own)
            if not idx:
                raise DataValidationError(f"input group {gset.name} of {fam.name} has no column in the dataset")
            groups.append(InputGroup(gset.name, columns=idx))
        return cls(fam.name, fam.image_bands, fam.image_norm, columns, tuple(groups))

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    def subset_mask(self, subset: InputSet | str) -> np.ndarray:
        """(G,) bool: the groups that make up ``subset``; raises when the family cannot provide it."""
        sub = parse_inputs(subset)
        fam = parse_inputs(self.family)
        if sub.has_images and sub.image_norm != fam.image_norm:
            raise ConfigError(f"{sub.name} is not a union of input groups of {fam.name} (raw vs normalised images)")
        mask = np.array([(parse_inputs(g.name) | sub).name == sub.name for g in self.groups])
        if not mask.any():
            raise ConfigError(f"{sub.name} is not a union of input groups of {fam.name}")
        union = parse_inputs("|".join(g.name for g, m in zip(self.groups, mask, strict=True) if m))
        if union.name != sub.name:
            raise ConfigError(f"{sub.name} is not a union of input groups of {fam.name}")
        return mask

    def covers(self, subset: InputSet | str) -> bool:
        """Whether ``subset`` is a union of this family's groups."""
        try:
            self.subset_mask(subset)
        except ConfigError:
            return False
        return True

    def to_dict(self) -> dict:
        return {"family": self.family, "image_bands": list(self.image_bands), "image_norm": self.image_norm,
                "columns": list(self.columns),
                "groups": [{"name": g.name, "channel": g.channel, "columns": list(g.columns)} for g in self.groups]}

    @classmethod
    def from_dict(cls, d: dict) -> GroupLayout:
        groups = tuple(InputGroup(g["name"], int(g["channel"]), tuple(g["columns"])) for g in d["groups"])
        return cls(d["family"], tuple(d["image_bands"]), bool(d["image_norm"]), tuple(d["columns"]), groups)


# ------------------------------------------------------------------------------------------------
# Masks: pure functions on tensors
# ------------------------------------------------------------------------------------------------


def mask_generator(seed: int, step: int) -> torch.Generator:
    """The generator of the group masks of one training step (independent of the augmentation's)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + 2**41 + step) % (2**63))


def sample_masks(gen: torch.Generator, n: int, n_groups: int, focus: torch.Tensor | None,
                 p_focus: float = DEFAULT_P_FOCUS) -> torch.Tensor:
    """(n, G) bool masks, one per galaxy.

    With probability ``p_focus`` a galaxy gets one of the ``focus`` masks (uniformly); otherwise the
    number of kept groups is uniform on 1..G and the kept groups a uniform choice of that many, so
    that large unions are seen as often as single groups.
    """
    u = torch.rand(n, generator=gen)
    k = torch.randint(1, n_groups + 1, (n,), generator=gen)
    ranks = torch.rand(n, n_groups, generator=gen).argsort(dim=1).argsort(dim=1)
    masks = ranks < k[:, None]
    if focus is not None and len(focus):
        pick = torch.randint(0, len(focus), (n,), generator=gen)
        masks = torch.where((u < p_focus)[:, None], focus[pick], masks)
    return masks


class GroupMasker:
    """Applies group masks to a batch: masked channels and columns become 0, mask bits are appended.

    ``apply`` returns images with masked channels zeroed and the network's tabular input
    ``[masked standardised features, mask bits]``. ``torch.where`` (not a product) is used so that a
    missing value (NaN) of a masked group cannot reach the output.
    """

    def __init__(self, layout: GroupLayout, focus: torch.Tensor | None = None,
                 p_focus: float = DEFAULT_P_FOCUS) -> None:
        self.layout, self.focus, self.p_focus = layout, focus, p_focus
        g = layout.n_groups
        self.channel_of = torch.zeros(g, max(1, len(layout.image_bands)), dtype=torch.bool)
        self.column_of = torch.zeros(g, len(layout.columns), dtype=torch.bool)
        for i, grp in enumerate(layout.groups):
            if grp.channel >= 0:
                self.channel_of[i, grp.channel] = True
            self.column_of[i, list(grp.columns)] = True
        # columns owned by no group (E(B-V)) are always kept
        self.always = ~self.column_of.any(dim=0)

    def apply(self, image: torch.Tensor | None, tab: torch.Tensor,
              mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        mask = mask.to(tab.device)
        m = mask.float()
        keep_col = (m @ self.column_of.float().to(tab.device)) > 0
        keep_col |= self.always.to(tab.device)[None, :]
        tab_in = torch.cat([torch.where(keep_col, tab, torch.zeros_like(tab)), m], dim=1)
        if image is not None:
            keep_ch = ((m @ self.channel_of.float().to(tab.device)) > 0).to(image.device)
            image = torch.where(keep_ch[:, :, None, None], image, torch.zeros_like(image))
        return image, tab_in


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


@dataclass
class AmortisedSpec:
    """How raw dataset values become the inputs of an amortised model (stored in the checkpoint).

    The tabular standardiser is fitted on the finite values of the training split, column by column,
    so that galaxies lacking a group still train (with that group masked).
    """

    layout: GroupLayout
    standardiser: Standardiser
    image: InputSpec | None = None
    focus: tuple[str, ...] = ()

    @property
    def input_set(self) -> str:
        return self.layout.family

    @property
    def image_bands(self) -> tuple[str, ...]:
        return self.layout.image_bands

    @property
    def image_size(self) -> int:
        return self.image.image_size if self.image is not None else 0

    @property
    def n_model_tabular(self) -> int:
        """Width of the network's tabular input: features plus one mask bit per group."""
        return len(self.layout.columns) + self.layout.n_groups

    def focus_masks(self) -> torch.Tensor:
        """(F, G) bool masks of the focus subsets."""
        if not self.focus:
            return torch.zeros(0, self.layout.n_groups, dtype=torch.bool)
        return torch.from_numpy(np.stack([self.layout.subset_mask(s) for s in self.focus]))

    @classmethod
    def fit(cls, ds, family: InputSet | str, train_rows: np.ndarray, focus: Iterable[str] = ()) -> AmortisedSpec:
        fam = parse_inputs(family)
        if fam.has_images and not ds.has_images:
            raise DataValidationError(f"input set {fam.name} needs images; dataset {ds.path} has none")
        has = lambda c: c in ds.catalog.colnames and ds.n_missing(c) < ds.n  # noqa: E731
        columns = fam.resolve_columns(has, lambda c: has(c) and ds.n_missing(c) == 0)
        layout = GroupLayout.build(fam, columns)
        raw = _raw_columns(ds, columns, train_rows)
        with np.errstate(invalid="ignore"):
            mean, std = np.nanmean(raw, axis=0), np.nanstd(raw, axis=0)
        empty = [c for c, v in zip(columns, mean, strict=True) if not np.isfinite(v)]
        if empty:
            raise DataValidationError(f"no training galaxy has a value of {', '.join(empty)}")
        std = np.where(std > 0, std, 1.0)
        image = None
        if fam.has_images:
            floor = flux_floor(ds.petrosian_flux(train_rows, fam.image_bands)) if fam.image_norm else None
            image = InputSpec(fam.name, (), Standardiser(np.zeros(0), np.ones(0)), fam.image_bands,
                              fam.image_norm, int(ds.image_shape[-1]), floor)
        spec = cls(layout, Standardiser(mean, std, columns), image, tuple(parse_inputs(s).name for s in focus))
        spec.focus_masks()  # every focus subset must be a union of groups
        return spec

    @staticmethod
    def usable_rows_of(ds, family: InputSet | str) -> np.ndarray:
        """Rows an amortised model of ``family`` can use: all, except (for normalised images)
        galaxies lacking a Petrosian magnitude of an image band. Other missing inputs are masked."""
        fam = parse_inputs(family)
        ok = np.ones(ds.n, dtype=bool)
        if fam.image_norm:
            for b in fam.image_bands:
                ok &= np.isfinite(ds.column(f"mag_{b}"))
        return np.flatnonzero(ok).astype(np.int64)

    def available(self, ds, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(standardised features float32 (n, T) with NaN where missing, (n, G) bool availability)."""
        raw = _raw_columns(ds, self.layout.columns, rows)
        z = ((raw - self.standardiser.mean) / self.standardiser.std).astype(np.float32)
        finite = np.isfinite(z)
        avail = np.ones((len(rows), self.layout.n_groups), dtype=bool)
        for i, grp in enumerate(self.layout.groups):
            if grp.columns:
                avail[:, i] = finite[:, list(grp.columns)].all(axis=1)
        always = [j for j in range(len(self.layout.columns))
                  if not any(j in g.columns for g in self.layout.groups)]
        if always and not finite[:, always].all():
            raise DataValidationError(f"missing values in always-given column(s) "
                                      f"{', '.join(self.layout.columns[j] for j in always)}")
        return z, avail

    def model_data(self, ds, rows: np.ndarray, target: str, bins: TargetBins, *,
                   max_memory_gb: float = 0.0, subset: str | None = None,
                   p_focus: float = DEFAULT_P_FOCUS) -> ModelData:
        """Tensors of ``rows``; with ``subset`` every row gets that subset's fixed mask."""
        z, avail = self.available(ds, rows)
        images = ImageSource(ds, self.image, rows, max_memory_gb) if self.image is not None else None
        y, y_bin = target_bins_of(ds, target, bins, rows)
        data = ModelData(rows, torch.from_numpy(z), images, y, torch.from_numpy(y_bin))
        data.masker = GroupMasker(self.layout, self.focus_masks(), p_focus)
        data.avail = torch.from_numpy(avail)
        if subset is not None:
            data.fixed_mask = torch.from_numpy(np.broadcast_to(self.layout.subset_mask(subset), avail.shape).copy())
        return data

    def to_dict(self) -> dict:
        return {"kind": "amortised", "layout": self.layout.to_dict(), "standardiser": self.standardiser.to_dict(),
                "image": None if self.image is None else self.image.to_dict(), "focus": list(self.focus)}

    @classmethod
    def from_dict(cls, d: dict) -> AmortisedSpec:
        return cls(GroupLayout.from_dict(d["layout"]), Standardiser.from_dict(d["standardiser"]),
                   None if d["image"] is None else InputSpec.from_dict(d["image"]), tuple(d["focus"]))


def is_amortised_spec(d: dict) -> bool:
    """Whether a checkpoint's ``input_spec`` belongs to an amortised model."""
    return d.get("kind") == "amortised"


def _raw_columns(ds, columns: Sequence[str], rows: np.ndarray) -> np.ndarray:
    if not columns:
        return np.zeros((len(rows), 0))
    return np.stack([np.asarray(ds.column(c, rows), dtype=np.float64) for c in columns], axis=1)


def validation_masks(spec: AmortisedSpec, avail: torch.Tensor, seed: int) -> torch.Tensor:
    """Fixed masks of the validation galaxies: each gets one focus subset (seeded), or a random one."""
    gen = torch.Generator().manual_seed(seed + 7919)
    focus = spec.focus_masks()
    n = len(avail)
    if len(focus):
        masks = focus[torch.randint(0, len(focus), (n,), generator=gen)]
    else:
        masks = sample_masks(gen, n, spec.layout.n_groups, None)
    return masks & avail


# ------------------------------------------------------------------------------------------------
# Families and focus subsets for a set of input sets
# ------------------------------------------------------------------------------------------------


def family_kind(input_set: InputSet | str) -> str:
    """``tabular``, ``images`` or ``images_norm``: the modality family of an input set."""
    s = parse_inputs(input_set)
    return "tabular" if not s.has_images else ("images_norm" if s.image_norm else "images")


def plan_families(input_sets: Iterable[str]) -> dict[str, str]:
    """Map each input set to the family (a union input set) that will predict it.

    One family per modality kind (:func:`family_kind`): catalogue inputs only, raw images (with the
    catalogue inputs that join them), normalised images. Tabular sets thus share one cheap network
    that can train long, and the image networks spend their budget on sets with images.
    """
    sets = [parse_inputs(s) for s in input_sets]
    families = {kind: _union([s for s in sets if family_kind(s) == kind])
                for kind in ("tabular", "images", "images_norm")}
    return {s.name: families[family_kind(s)].name for s in sets}


def _union(sets: list[InputSet]) -> InputSet | None:
    if not sets:
        return None
    u = sets[0]
    for s in sets[1:]:
        u = u | s
    return u


def default_focus(family: InputSet | str) -> tuple[str, ...]:
    """Focus subsets of a family: the standard input sets, the paper's tuples and band studies it covers."""
    from galinfo.data.inputs import STANDARD_INPUT_SETS
    from galinfo.info.tuples import PAPER_TUPLES, band_study_tuples, plan_models

    fam = parse_inputs(family)
    layout = GroupLayout.build(fam, _all_columns(fam))
    names = list(STANDARD_INPUT_SETS) + list(plan_models(PAPER_TUPLES + band_study_tuples()))
    names += [g.name for g in layout.groups] + [fam.name]
    seen: dict[str, None] = {}
    for n in names:
        name = parse_inputs(n).name
        if layout.covers(name):
            seen.setdefault(name, None)
    return tuple(seen)


def _all_columns(fam: InputSet) -> tuple[str, ...]:
    """Every column ``fam`` could use (for planning, before a dataset is at hand)."""
    return fam.resolve_columns(lambda c: True)


__all__ = ["AmortisedSpec", "GroupLayout", "GroupMasker", "InputGroup", "default_focus",
           "is_amortised_spec", "mask_generator", "plan_families", "sample_masks", "validation_masks"]
