"""Engine exceptions: raised where the problem is known, translated to messages at the edges."""


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class ModelNotFound(EngineError):
    """A model name or path that the registry and the file system do not know."""


class ModelLoadError(EngineError):
    """A model folder or file exists but cannot be loaded (format, memory, missing file)."""


class ContextOverflow(EngineError):
    """The prompt plus the reserved answer does not fit the model's window; never truncated."""

    def __init__(self, prompt_tokens: int, reserved_output: int, window: int):
        self.prompt_tokens = prompt_tokens
        self.reserved_output = reserved_output
        self.window = window
        super().__init__(
            f"prompt of {prompt_tokens} tokens plus {reserved_output} reserved for the answer "
            f"exceeds the model's window of {window} tokens"
        )


class BackendUnavailable(EngineError):
    """A remote server could not be reached or answered with an error."""


class Cancelled(EngineError):
    """Generation was cancelled by the caller."""
