"""galinfo: stellar-mass estimators from galaxy images and photometry, interpreted.

Layout (data flows one way):

    data  -> models -> per-galaxy outputs (latents, likelihoods) -> knn / causal / info -> study -> report

Units: information in nats unless a name says bits; masses in log10 Msun; objid is int64.
"""

__version__ = "0.1.0"

from galinfo.errors import GalinfoError, GalinfoWarning

__all__ = ["GalinfoError", "GalinfoWarning", "__version__"]
