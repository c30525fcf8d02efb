"""The one exception type the codec raises for anything a user can cause."""


class InrError(Exception):
    """Bad input, a corrupt or truncated file, an impossible budget: its message is one line for the user."""
