"""Small named exceptions raised by the library; the CLI turns them into one line."""


class BotError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(BotError):
    """config.yaml is missing, unreadable, or has a wrong key or value."""


class CorpusError(BotError):
    """The corpus cannot be used at all (missing, or no loadable article)."""


class IndexFormatError(BotError):
    """A saved index is unreadable, corrupt, or from another format/corpus."""


def describe_error(exc: BaseException) -> str:
    """One line for the log: the message of our own errors, else the exception's type and text."""
    text = " ".join(str(exc).split())
    if isinstance(exc, BotError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
