"""Source tuples <X1, X2> of the decomposition and a planner of the models they need.

Each tuple needs three models: source 1, source 2 and their union, named by canonical input-set
names (``parse_inputs(...).name``), so a model shared by several tuples (e.g. ``I_ugriz``, the
union of every image band study) is listed, and trained, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from galinfo.data.inputs import MAGNITUDES, parse_inputs
from galinfo.data.schema import BANDS

_MAG_TOKEN = {**{b: b for b in BANDS}, "w1": "W1", "w2": "W2", "w3": "W3"}


@dataclass(frozen=True)
class TupleSpec:
    """Two sources of a PID; ``source1``/``source2``/``union`` are canonical input-set names."""

    source1: str
    source2: str
    label: str = ""

    def __post_init__(self) -> None:
        s1, s2 = parse_inputs(self.source1), parse_inputs(self.source2)
        object.__setattr__(self, "source1", s1.name)
        object.__setattr__(self, "source2", s2.name)
        if not self.label:
            object.__setattr__(self, "label", f"<{s1.name}, {s2.name}>")

    @property
    def union(self) -> str:
        return (parse_inputs(self.source1) | parse_inputs(self.source2)).name

    @property
    def models(self) -> tuple[str, str, str]:
        """Input-set names of the three models: source 1, source 2, union."""
        return (self.source1, self.source2, self.union)

    @property
    def catalogue_only(self) -> bool:
        """True when no model of the tuple needs images."""
        return not any(parse_inputs(m).has_images for m in self.models)

    @classmethod
    def parse(cls, text: str) -> TupleSpec:
        """``"M_ugriz,Morph"`` -> TupleSpec (two input-set names separated by a comma)."""
        from galinfo.errors import ConfigError

        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"tuple {text!r} must be two input sets separated by a comma, e.g. 'M_ugriz,Morph'")
        return cls(parts[0], parts[1])


PAPER_TUPLES: tuple[TupleSpec, ...] = (
    TupleSpec("M_ugriz", "I_ugriz_norm"),
    TupleSpec("M_ugriz", "Morph"),
    TupleSpec("M_ugriz", "M_W123"),
    TupleSpec("I_ugriz", "M_W123"),
    TupleSpec("I_ugriz|M_W123", "zspec"),
)
"""The five tuples of Zhang, Lin, Ting et al. (2025)."""


def _mag_name(mags: Iterable[str]) -> str:
    return "M_" + "".join(_MAG_TOKEN[m] for m in mags)


BAND_STUDIES: dict[int, str] = {
    2: "each image band against the other four",
    3: "each adjacent pair of image bands against the other three",
    4: "each magnitude against the other seven",
    5: "each adjacent pair of magnitudes against the other six",
}
"""The band studies by id (the paper's five tuples are study 1)."""


def band_studies() -> dict[int, tuple[TupleSpec, ...]]:
    """The tuples of each band study of :data:`BAND_STUDIES`; the union is always all 5 image bands
    or all 8 magnitudes."""
    all_bands = "".join(BANDS)
    all_mags = _mag_name(MAGNITUDES)[2:]
    mag_pairs = [(a, b) for a, b in zip(MAGNITUDES[:-1], MAGNITUDES[1:], strict=True)]
    return {
        2: tuple(TupleSpec(f"I_{b}", f"I_{all_bands}-{b}") for b in BANDS),
        3: tuple(TupleSpec(f"I_{a}{b}", f"I_{all_bands}-{a}{b}") for a, b in zip(BANDS[:-1], BANDS[1:], strict=True)),
        4: tuple(TupleSpec(_mag_name([m]), f"M_{all_mags}-{_MAG_TOKEN[m]}") for m in MAGNITUDES),
        5: tuple(TupleSpec(_mag_name([a, b]), f"M_{all_mags}-{_MAG_TOKEN[a]}{_MAG_TOKEN[b]}") for a, b in mag_pairs),
    }


def band_study_tuples() -> tuple[TupleSpec, ...]:
    """Every tuple of the paper's band studies (:func:`band_studies`), in study order.

    Each image band vs the other four; each adjacent image band pair (ug, gr, ri, iz) vs the other
    three; each of the 8 magnitudes vs the other seven; each adjacent magnitude pair
    (ug, gr, ri, iz, zW1, W1W2, W2W3) vs the other six.
    """
    return tuple(t for group in band_studies().values() for t in group)


def plan_models(tuples: Iterable[TupleSpec]) -> tuple[str, ...]:
    """Distinct input-set names needed by ``tuples``, in first-use order (each trained once)."""
    seen: dict[str, None] = {}
    for t in tuples:
        for m in t.models:
            seen.setdefault(m, None)
    return tuple(seen)
