"""Pydantic input and output shapes of the members capability (never ORM objects on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from entente.core.pagination import Page
from entente.core.schemas import refuse_nul
from entente.members.choices import ItuRegion, OrganisationType, Role, TokenStatus

T = TypeVar("T")

# Ids are SQL INTEGER columns: bounding them at the edge makes a huge id a 422 naming it,
# where SQLite would otherwise fail with an overflow deep in the driver.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Ge(1), Le(MAX_ROW_ID)]

CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=2, max_length=2)
]
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$"
    ),
]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is a 422 naming it rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        return refuse_nul(value) if isinstance(value, str) else value


class Patch(Strict):
    """Every field optional: absent leaves a value as it is. `null` clears only the fields
    named in `clearable`; for the others it is refused (422), never stored."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("may be left out, but not null")
        return value


class ListOf(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="Number of items matching the filters, over all pages")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


def list_of(page: Page[T]) -> ListOf[T]:
    """A page of service results in the API's list shape."""
    return ListOf[T](data=page.items, count=page.count, next_cursor=page.next_cursor)


class MemberStatePublic(BaseModel):
    alpha2: str
    alpha3: str
    numeric: str
    name: str
    region: ItuRegion
    region_label: str
    organisation_count: int


class OrganisationBase(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    short_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = (
        None
    )
    type: OrganisationType
    member_state: CountryCode = Field(description="ISO 3166-1 alpha-2 code of an ITU member state")
    website: Annotated[str, StringConstraints(max_length=300)] | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None


class OrganisationCreate(OrganisationBase):
    pass


class OrganisationUpdate(Patch):
    clearable = frozenset({"short_name", "website", "description"})

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
        | None
    ) = None
    short_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = (
        None
    )
    type: OrganisationType | None = None
    website: Annotated[str, StringConstraints(max_length=300)] | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    is_active: bool | None = None


class OrganisationPublic(BaseModel):
    id: int
    name: str
    short_name: str | None
    type: OrganisationType
    member_state: str
    website: str | None
    description: str | None
    is_active: bool
    created_at: datetime
    user_count: int


class UserCreate(Strict):
    username: Username
    email: EmailStr
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    password: Annotated[str, StringConstraints(max_length=1024)]
    role: Role
    organisation_id: RowId


class UserUpdate(Patch):
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    role: Role | None = None
    is_active: bool | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    role: Role
    organisation_id: RowId
    organisation_name: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class TokenCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_in_days: int | None = Field(default=None, ge=1, le=730)


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    user_id: int
    username: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: TokenStatus


class TokenCreated(TokenPublic):
    token: str = Field(description="The bearer token. Shown once: store it now.")


class LoginRequest(Strict):
    username: str
    password: str


class Me(BaseModel):
    user: UserPublic
    sharing_group_ids: list[int]
