"""Domain errors raised by services and mapped to HTTP statuses by the API.

Each carries a `detail` for people and a `code` for programs. Clients branch on codes,
so a code, once published, never changes meaning (README, "Errors").
"""


class DomainError(Exception):
    """Base of errors that carry a message fit for a client."""

    code = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class NotFoundError(DomainError):
    code = "not_found"


class ConflictError(DomainError):
    code = "conflict"


class InvalidRequestError(DomainError):
    """A request the service understood but will not run as sent (422)."""

    code = "invalid_request"


class UserNotFoundError(NotFoundError):
    code = "user_not_found"

    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} not found")


class RoleNotFoundError(NotFoundError):
    code = "role_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"role {name!r} not found")


class PostNotFoundError(NotFoundError):
    code = "post_not_found"

    def __init__(self, post_id: int) -> None:
        super().__init__(f"post {post_id} not found")
