"""The one exception type users see: a clear, specific message about bad input."""


class LandscapeError(ValueError):
    """Bad input to the library (model parameters, view settings, files).

    The message is meant for people: it says what was wrong and what is allowed.
    The CLI prints it as one line; the dashboard shows it in the panel.
    """


class BudgetExceeded(LandscapeError):
    """A computation ran past its compute budget (:mod:`landscapes.budget`) and was ended.

    The HTTP API answers it with 422 (the request is valid but costs more than the server
    allows: ask for fewer steps, points or starts); the dashboard shows it in the panel.
    """


class Cancelled(LandscapeError):
    """A computation was ended because nobody waits for it any more (the client has gone)."""
