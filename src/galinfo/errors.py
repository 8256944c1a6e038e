"""Exceptions and warnings of galinfo.

Which one to raise:

- ``DataValidationError``: a dataset, table, image cube or array that breaks the data model
  (missing column, NaN in a used input, duplicate objid, misaligned images, wrong shape).
- ``InputSetError``: an input-set name that cannot be parsed or is unknown.
- ``ConfigError``: a configuration (YAML, CLI options, presets) that is invalid before any work starts.
- ``GalinfoError``: anything else that a user can fix by changing what they passed in.

Every error message is one line that names the offending column, file, ID or value. The CLI prints
it and exits with status 2. All of them subclass ``ValueError`` so that plain Python callers can
catch them generically.
"""


class GalinfoError(ValueError):
    """Base class of all user-facing galinfo errors."""


class DataValidationError(GalinfoError):
    """Data that breaks the galinfo data model."""


class InputSetError(GalinfoError):
    """An input-set name that cannot be parsed or is not known."""


class ConfigError(GalinfoError):
    """An invalid configuration."""


class GalinfoWarning(UserWarning):
    """Base class of galinfo warnings."""
