"""galinfo.info: pointwise mutual information and its partial information decomposition (nats).

- :func:`pointwise_mi`: i = ln q(true bin | x) - ln p(true bin) from a trained model's likelihoods.
- :func:`pid`: per-galaxy atoms red/unq1/unq2/syn (the paper's pointwise minimum rule by default).
- :func:`estimate_pointwise_mi`: cross-fitted out-of-sample pointwise MI for plain arrays.
- :func:`pid_table`: the per-galaxy table from three models' predictions, aligned by objid.
- :func:`gaussian_copula_pid`, :func:`gaussian_mmi_pid`, :func:`gaussian_dep_pid`: closed-form Gaussian cross-checks.
- :func:`bootstrap_means`, :func:`summarize`, :func:`binned`: intervals and aggregation.
"""

from galinfo.info.aggregate import binned, summarize
from galinfo.info.estimate import CrossFitResult, estimate_pointwise_mi
from galinfo.info.gaussian import (
    GaussianCopulaPID,
    copula_normalize,
    gaussian_copula_pid,
    gaussian_dep_pid,
    gaussian_local_mi,
    gaussian_mi,
    gaussian_mmi_pid,
)
from galinfo.info.pid import ATOMS, PID_MEASURES, average_atoms, mmi_atoms, mmi_on_averages, pid
from galinfo.info.pointwise import binned_prior, pointwise_mi
from galinfo.info.table import latent_copula_pid, per_galaxy_table, pid_table
from galinfo.info.tuples import PAPER_TUPLES, TupleSpec, band_study_tuples, plan_models
from galinfo.info.uncertainty import BootstrapResult, bootstrap_means, realisation_spread

__all__ = [
    "ATOMS",
    "PAPER_TUPLES",
    "PID_MEASURES",
    "BootstrapResult",
    "CrossFitResult",
    "GaussianCopulaPID",
    "TupleSpec",
    "average_atoms",
    "band_study_tuples",
    "binned",
    "binned_prior",
    "bootstrap_means",
    "copula_normalize",
    "estimate_pointwise_mi",
    "gaussian_copula_pid",
    "gaussian_dep_pid",
    "gaussian_local_mi",
    "gaussian_mi",
    "gaussian_mmi_pid",
    "latent_copula_pid",
    "mmi_atoms",
    "mmi_on_averages",
    "per_galaxy_table",
    "pid",
    "pid_table",
    "plan_models",
    "pointwise_mi",
    "realisation_spread",
    "summarize",
]
