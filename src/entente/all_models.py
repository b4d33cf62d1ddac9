"""Imports every capability's tables so `Base.metadata` is complete (migrations, tests)."""

from entente.core import access, audit
from entente.members import models as members_models
from entente.sharing import models as sharing_models

__all__ = ["access", "audit", "members_models", "sharing_models"]
