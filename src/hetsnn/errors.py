"""Exceptions with one-line messages that name the fix."""


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which and how to fix it."""


class RunDirError(RuntimeError):
    """A run directory cannot be used as asked (would overwrite or mix results)."""


class TrainingDiverged(RuntimeError):
    """An optimiser's state became non-finite; the run stopped before reporting numbers."""


class ClusterError(RuntimeError):
    """The cluster lost a task past its retries (a dead node or raylet): finished points are
    kept, so the run resumes."""
