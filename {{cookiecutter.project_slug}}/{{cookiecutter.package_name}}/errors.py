"""Domain errors raised by services and mapped to HTTP statuses by the API."""


class DomainError(Exception):
    """Base of errors that carry a message fit for a client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    pass


class ConflictError(DomainError):
    pass
