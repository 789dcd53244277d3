"""The one exception type for bad user input."""


class InputError(ValueError):
    """Input the user must change: the message says what is wrong and what to change.

    Library functions raise it with a message about the data; the rule scripts add the
    sample name and the file (see :func:`rvae_pathways.rule_runner.run`).
    """
