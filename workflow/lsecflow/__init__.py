"""lsecflow: LSEC omics from raw counts to paracrine factors.

The Snakemake rules in ``workflow/rules`` are thin; the logic lives here so it
can be imported and unit-tested without Snakemake.
"""

__version__ = "0.1.0"

from .errors import ConfigError, InputDataError, LsecflowError

__all__ = ["ConfigError", "InputDataError", "LsecflowError", "__version__"]
