"""The one exception type users see: a clear, specific message about bad input."""


class LandscapeError(ValueError):
    """Bad input to the library (model parameters, view settings, files).

    The message is meant for people: it says what was wrong and what is allowed.
    The CLI prints it as one line; the dashboard shows it in the panel.
    """
