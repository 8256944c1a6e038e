"""galinfo.mock: a physically grounded mock SDSS + WISE survey rendered with GalSim.

``generate(n, seed, out)`` writes a dataset (catalog.fits, images.h5, manifest.json) plus
``truth_dag.json``, the known causal graph. See docs/mock.md.
"""

from galinfo.mock.config import MockConfig
from galinfo.mock.generate import generate

__all__ = ["MockConfig", "generate"]
