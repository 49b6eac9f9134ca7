"""The one exception type for bad user input; the CLI prints it as one line and exits 2."""


class UserError(Exception):
    """Bad input from a user (file, key or argument named in the message); never a bug."""
