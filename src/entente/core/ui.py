"""UI routes (filled in by the web shell work)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
