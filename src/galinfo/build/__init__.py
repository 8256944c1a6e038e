"""galinfo.build: datasets made from survey archives (``galinfo build sdss``)."""
