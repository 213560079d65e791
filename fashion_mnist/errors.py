"""The errors a stage reports as one clear line instead of a traceback: bad input, not bugs."""


class PipelineError(Exception):
    """Input the pipeline cannot use; the message names the file or key and what was expected."""


class ParamsError(PipelineError, ValueError):
    """params.yaml is missing, malformed or holds a value a stage cannot use."""


class DataError(PipelineError, ValueError):
    """A data or model file is unreadable or does not hold what the pipeline expects."""


class DownloadError(PipelineError):
    """No mirror delivered a file with the expected content."""
