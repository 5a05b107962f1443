"""
A request refused for a reason the user can act on. The exception carries
its message and its HTTP status (and, when waiting helps, the seconds until
trying again can succeed), so one answer (``lib.http.refuse``) serves a
page, a script asking for JSON and a stream alike.
"""


class Refusal(Exception):
    http_status = 400

    def __init__(self, message: str = "", *, status: int | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.http_status = status
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        """For the user, in their language. Kinds that compose it from their fields override this."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.message
