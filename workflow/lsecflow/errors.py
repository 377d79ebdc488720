"""Error types raised for problems the user must fix in their inputs."""


class LsecflowError(Exception):
    """An input or configuration problem, with a message meant for the user."""


class ConfigError(LsecflowError):
    """The config, a dataset file, a sample sheet or a contrast is invalid."""


class InputDataError(LsecflowError):
    """A data file (counts, annotation table) is unreadable or not valid."""
