"""Named input sets: which image channels and catalogue columns a model sees.

Names follow the paper and compose with ``|``::

    I_ugriz        images in all five bands         I_g, I_gr     single bands / subsets
    I_ugriz-g      all bands but g                  I_ugriz_norm  each band / its Petrosian flux
    M_ugriz        5 Petrosian mags (+ errors)      M_W123        W1-W3 (+ errors of W1, W2)
    M_u, M_zW1     any subset of the 8 magnitudes   M_ugrizW123-g all 8 but g
    Morph          Sersic n, b/a, R50, R90 per band Morph_r       one band's 4 numbers
    zspec          spectroscopic redshift

``ebv`` is appended to every input set, as in the paper. Magnitude errors and ``ebv`` are
*companion* columns: used when the dataset has them, left out when a catalogue lacks them (e.g.
NA10 has no errors and no E(B-V)). Morphology bands a catalogue lacks are left out the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from galinfo.data.schema import BANDS, MORPH_QUANTITIES, WISE_BANDS
from galinfo.errors import DataValidationError, InputSetError

MAGNITUDES: tuple[str, ...] = (*BANDS, *WISE_BANDS)
"""The 8 magnitudes in wavelength order: u g r i z w1 w2 w3."""

_MAG_COLUMN = {**{b: f"mag_{b}" for b in BANDS}, **{w: w for w in WISE_BANDS}}
_MAG_ERROR_COLUMN = {**{b: f"magerr_{b}" for b in BANDS}, "w1": "w1err", "w2": "w2err"}
_MAG_LABEL = {**{b: b for b in BANDS}, "w1": "W1", "w2": "W2", "w3": "W3"}


def _order(items, reference) -> tuple[str, ...]:
    return tuple(x for x in reference if x in set(items))


def _parse_bands(text: str, term: str) -> tuple[str, ...]:
    if not text or any(ch not in BANDS for ch in text) or len(set(text)) != len(text):
        raise InputSetError(f"bad band list {text!r} in input term {term!r}: use letters of 'ugriz'")
    return _order(text, BANDS)


def _parse_mags(text: str, term: str) -> tuple[str, ...]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in BANDS:
            out.append(ch)
            pos += 1
            continue
        m = re.match(r"W([123]+)", text[pos:])
        if not m:
            raise InputSetError(
                f"bad magnitude list {text!r} in input term {term!r}: use u g r i z W1 W2 W3 (W123)"
            )
        out.extend(f"w{d}" for d in m.group(1))
        pos += m.end()
    if not out or len(set(out)) != len(out):
        raise InputSetError(f"bad magnitude list {text!r} in input term {term!r}")
    return _order(out, MAGNITUDES)


def _mag_label(mags: tuple[str, ...]) -> str:
    label = ""
    for m in mags:
        lab = _MAG_LABEL[m]
        if lab.startswith("W") and label and label[-1].isdigit() and "W" in label:
            label += lab[1:]  # W1,W2,W3 -> W123
        else:
            label += lab
    return label


@dataclass(frozen=True)
class InputSet:
    """What a model sees: image bands, tabular magnitudes, morphology bands and spec-z.

    Build with :func:`parse_inputs`; combine with ``|``. ``name`` is the canonical string.
    """

    image_bands: tuple[str, ...] = ()
    image_norm: bool = False
    mags: tuple[str, ...] = ()
    morph_bands: tuple[str, ...] = ()
    zspec: bool = False

    def __post_init__(self) -> None:
        if self.image_norm and not self.image_bands:
            raise InputSetError("normalised images need at least one image band")
        if not (self.image_bands or self.mags or self.morph_bands or self.zspec):
            raise InputSetError("an input set needs at least one input")

    # -- composition ------------------------------------------------------------------------
    def __or__(self, other: InputSet) -> InputSet:
        if not isinstance(other, InputSet):
            return NotImplemented
        if self.image_bands and other.image_bands and self.image_norm != other.image_norm:
            raise InputSetError(f"cannot combine raw and normalised images: {self.name} | {other.name}")
        return InputSet(
            image_bands=_order(set(self.image_bands) | set(other.image_bands), BANDS),
            image_norm=self.image_norm or other.image_norm,
            mags=_order(set(self.mags) | set(other.mags), MAGNITUDES),
            morph_bands=_order(set(self.morph_bands) | set(other.morph_bands), BANDS),
            zspec=self.zspec or other.zspec,
        )

    # -- description ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        terms = []
        if self.image_bands:
            terms.append("I_" + "".join(self.image_bands) + ("_norm" if self.image_norm else ""))
        optical = tuple(m for m in self.mags if m in BANDS)
        wise = tuple(m for m in self.mags if m in WISE_BANDS)
        if optical == BANDS and wise:  # keep the paper's two blocks apart: M_ugriz|M_W123
            terms.append("M_ugriz")
            terms.append("M_" + _mag_label(wise))
        elif self.mags:
            terms.append("M_" + _mag_label(self.mags))
        if self.morph_bands:
            terms.append("Morph" if self.morph_bands == BANDS else "Morph_" + "".join(self.morph_bands))
        if self.zspec:
            terms.append("zspec")
        return "|".join(terms)

    def __str__(self) -> str:
        return self.name

    @property
    def has_images(self) -> bool:
        return bool(self.image_bands)

    @property
    def n_image_channels(self) -> int:
        return len(self.image_bands)

    @property
    def latent_dim(self) -> int:
        """Default latent size in the paper: 16 with images, 8 for tabular inputs."""
        return 16 if self.has_images else 8

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Catalogue columns that must be present and finite for every galaxy used."""
        cols = [_MAG_COLUMN[m] for m in self.mags]
        if self.zspec:
            cols.append("z")
        if self.image_norm:  # the Petrosian flux that normalises each band
            cols.extend(f"mag_{b}" for b in self.image_bands if f"mag_{b}" not in cols)
        return tuple(cols)

    @property
    def companion_columns(self) -> tuple[str, ...]:
        """Columns used when the dataset has them: magnitude errors and E(B-V)."""
        cols = [_MAG_ERROR_COLUMN[m] for m in self.mags if m in _MAG_ERROR_COLUMN]
        return (*cols, "ebv")

    @property
    def morph_columns(self) -> tuple[str, ...]:
        return tuple(f"{q}_{b}" for b in self.morph_bands for q in MORPH_QUANTITIES)

    def resolve_columns(
        self,
        has_column: Callable[[str], bool],
        has_complete_column: Callable[[str], bool] | None = None,
    ) -> tuple[str, ...]:
        """Tabular feature columns for a dataset, in a fixed order.

        ``has_column(name)`` says whether the dataset holds the column with any values;
        ``has_complete_column(name)`` whether it has no missing value (default: ``has_column``).
        Required columns must be there; morphology bands are used where the dataset has them;
        companions (errors, E(B-V)) only where complete, so a catalogue that lacks them still serves
        the input set. Rows with missing values in a used column are the caller's to select
        (``Dataset.complete_rows``).
        """
        complete = has_complete_column or has_column
        missing = [c for c in self.required_columns if not has_column(c)]
        if missing:
            raise DataValidationError(
                f"input set {self.name} needs column(s) {', '.join(missing)}, which the dataset lacks"
            )
        cols = [_MAG_COLUMN[m] for m in self.mags]
        cols += [c for c in self.companion_columns if c != "ebv" and complete(c)]
        if self.morph_bands:
            morph = [c for c in self.morph_columns if has_column(c)]
            if not morph:
                raise DataValidationError(
                    f"input set {self.name} needs morphology columns ({self.morph_columns[0]}, ...), "
                    "none of which the dataset has"
                )
            cols += morph
        if self.zspec:
            cols.append("z")
        if complete("ebv"):
            cols.append("ebv")
        return tuple(cols)


def _parse_term(term: str) -> InputSet:
    if term == "zspec":
        return InputSet(zspec=True)
    if term == "Morph":
        return InputSet(morph_bands=BANDS)
    if term.startswith("Morph_"):
        return InputSet(morph_bands=_parse_bands(term[6:], term))
    if term.startswith("I_"):
        body = term[2:]
        norm = body.endswith("_norm")
        if norm:
            body = body[: -len("_norm")]
        base, _, minus = body.partition("-")
        bands = _parse_bands(base, term)
        if minus:
            drop = _parse_bands(minus, term)
            bands = tuple(b for b in bands if b not in drop)
            if not bands:
                raise InputSetError(f"input term {term!r} leaves no image band")
        return InputSet(image_bands=bands, image_norm=norm)
    if term.startswith("M_"):
        base, _, minus = term[2:].partition("-")
        mags = _parse_mags(base, term)
        if minus:
            drop = _parse_mags(minus, term)
            mags = tuple(m for m in mags if m not in drop)
            if not mags:
                raise InputSetError(f"input term {term!r} leaves no magnitude")
        return InputSet(mags=mags)
    raise InputSetError(
        f"unknown input {term!r}: expected I_<bands>[_norm], M_<mags>, Morph[_<bands>] or zspec"
    )


def parse_inputs(spec: str | InputSet) -> InputSet:
    """Parse ``"I_ugriz|M_W123"`` (terms joined by ``|``) into an :class:`InputSet`."""
    if isinstance(spec, InputSet):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise InputSetError(f"empty input-set name {spec!r}")
    terms = [t.strip() for t in spec.split("|")]
    if any(not t for t in terms):
        raise InputSetError(f"empty term in input-set name {spec!r}")
    result = _parse_term(terms[0])
    for t in terms[1:]:
        result = result | _parse_term(t)
    return result


STANDARD_INPUT_SETS: tuple[str, ...] = (
    "I_ugriz",
    "I_ugriz_norm",
    "M_ugriz",
    "M_W123",
    "Morph",
    "zspec",
    "M_ugriz|M_W123",
    "M_ugriz|Morph",
    "I_ugriz|M_W123",
    "I_ugriz|M_W123|zspec",
)
"""Input sets that ``galinfo info`` reports on."""
