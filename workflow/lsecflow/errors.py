"""Error types raised for problems the user must fix in their inputs."""


class LsecflowError(Exception):
    """An input or configuration problem, with a message meant for the user."""


class ConfigError(LsecflowError):
    """The config, a dataset file, a sample sheet or a contrast is invalid."""


class InputDataError(LsecflowError):
    """A data file (counts, annotation table) is unreadable or not valid."""


class UnfittableFit(InputDataError, ValueError):
    """One DE unit's data cannot be fitted as configured (the design on its samples, or DESeq2's size factors on
    its counts). A bulk fit stops with it; a pseudobulk cell type is skipped with it as the reason
    (:func:`lsecflow.de_inputs.skip_unfittable`), so that the other cell types go on."""


class UnfittableDesign(UnfittableFit):
    """The design cannot be fitted on one fit's samples: a design column with a single level, columns that are
    combinations of others (confounded), or no residual df (as many coefficients as samples)."""
