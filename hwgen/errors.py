"""The one exception type a stage raises for bad input: the CLI prints it as a one-line error."""


class HwgenError(Exception):
    """A user-facing error. The message names the file, node or field at fault and what to do."""
