from lib.refusals import Refusal


class Refused(Refusal):
    """
    A call the ledger will not let start: the send rate or the quota. The
    message is for the user; ``retry_after`` is the seconds until trying
    again can succeed. Views answer it with 429 and ``Retry-After``.
    """

    http_status = 429
    retry_after: int

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
