import unicodedata
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from email_validator import SPECIAL_USE_DOMAIN_NAMES, validate_email
from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from .common import InputSchema, OutputSchema, text
from .post import PostRead
from .role import RoleRead

EMAIL_MAX_LENGTH = 100
# The time zones accepted, exactly those the schema lists: the IANA names this machine's
# time zone database knows. (ZoneInfo itself also loads `posix/Europe/Rome`,
# `right/Europe/Rome` and other files under its search path, which are not names.)
TIME_ZONES = frozenset(available_timezones())


def _ascii_email(value: object) -> object:
    """Fold compatibility forms (a fullwidth e, U+FF45, is e), then refuse any other
    character outside ASCII: a letter that only looks like an ASCII one (Cyrillic a,
    U+0430) would make a second account look like the first, as usernames cannot."""
    if not isinstance(value, str):
        return value
    folded = unicodedata.normalize("NFKC", value)
    if not folded.isascii():
        raise ValueError(
            "must contain only ASCII characters (letters that merely look like ASCII ones"
            " are refused; write an internationalised domain in punycode, xn--...)"
        )
    return folded


def _normalise_email(email: str) -> str:
    if not email.isascii():
        # A punycode domain (xn--...) comes back from EmailStr in Unicode: keep it ASCII.
        email = validate_email(email, check_deliverability=False).ascii_email or email
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValueError(f"must be at most {EMAIL_MAX_LENGTH} characters")
    return email.lower()


def _known_timezone(name: str) -> str:
    if name not in TIME_ZONES:
        # Without the name: error bodies never echo input.
        raise ValueError("unknown time zone (an IANA name such as Europe/Rome)")
    return name


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" for char in word)


# email-validator refuses special-use domains (RFC 6761: .test, .invalid, .localhost, ...),
# which `format: email` admits; the schema says so (ECMA regexes have no (?i) flag).
SPECIAL_USE_DOMAIN = "[@.](" + "|".join(map(_any_case, SPECIAL_USE_DOMAIN_NAMES)) + ")$"


Username = Annotated[
    str, StringConstraints(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
]
# ASCII only (see `_ascii_email`); stored lower-cased, so uniqueness does not depend on
# letter case.
Email = Annotated[
    EmailStr,
    BeforeValidator(_ascii_email),
    AfterValidator(_normalise_email),
    Field(
        description="ASCII only, after folding fullwidth forms (NFKC); an internationalised"
        " domain in punycode (xn--...). Stored lower-cased.",
        json_schema_extra={"not": {"pattern": SPECIAL_USE_DOMAIN}},
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
FullName = Annotated[str, text(max_length=100)]
Bio = Annotated[str, text(max_length=10_000)]


class UserCreate(InputSchema):
    username: Username
    email: Email
    password: Password
    full_name: FullName | None = None
    bio: Bio | None = None


def _unique_within_batch(users: list[UserCreate]) -> list[UserCreate]:
    """Reject a batch that repeats a username or email (ignoring case) before any work."""
    for field in ("username", "email"):
        seen: dict[str, int] = {}
        for index, user in enumerate(users):
            value = getattr(user, field).lower()
            if value in seen:
                raise ValueError(f"items {seen[value]} and {index} have the same {field}")
            seen[value] = index
    return users


# The size limit is BULK_MAX_USERS, checked by the route (a setting, not a constant).
UserBatch = Annotated[list[UserCreate], AfterValidator(_unique_within_batch)]


def _documented_without_null(schema: dict[str, Any]) -> None:
    """The schema of a field that may be omitted but not null: its non-null variant."""
    (variant,) = [v for v in schema.pop("anyOf") if v != {"type": "null"}]
    schema.pop("default", None)
    schema.update(variant)


def _omittable() -> Any:
    return Field(default=None, json_schema_extra=_documented_without_null)


class UserUpdate(InputSchema):
    username: Username | None = _omittable()
    email: Email | None = _omittable()
    password: Password | None = _omittable()
    full_name: FullName | None = None
    bio: Bio | None = None
    is_active: StrictBool | None = _omittable()

    @field_validator("username", "email", "password", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # These may be left out, but not set to null: the columns hold a value.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ProfileCreate(InputSchema):
    avatar_url: Annotated[str, text(max_length=500)] | None = None
    website: Annotated[str, text(max_length=200)] | None = None
    location: Annotated[str, text(max_length=100)] | None = None
    birth_date: date | None = None
    timezone: Annotated[
        str,
        text(min_length=1, max_length=50),
        AfterValidator(_known_timezone),
        # The names this machine's time zone database knows, so clients can pick one.
        Field(json_schema_extra={"enum": sorted(TIME_ZONES)}),
    ] = "UTC"
    language: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=10)
    ] = "en"


class UserWithProfileCreate(InputSchema):
    user: UserCreate
    profile: ProfileCreate


class UserRead(OutputSchema):
    id: int
    username: str
    email: str
    full_name: str | None
    bio: str | None
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime


class ProfileRead(OutputSchema):
    avatar_url: str | None
    website: str | None
    location: str | None
    birth_date: date | None
    timezone: str
    language: str


class UserWithProfileRead(UserRead):
    profile: ProfileRead


class UserDetails(UserRead):
    roles: list[RoleRead]
    posts: list[PostRead]
    profile: ProfileRead | None


class UserStatistics(OutputSchema):
    total_users: int
    active_users: int
    new_users_30d: int


class UserPostCount(OutputSchema):
    id: int
    username: str
    email: str
    post_count: int
