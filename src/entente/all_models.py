"""Imports every capability's tables so `Base.metadata` is complete (migrations, tests)."""

from entente.alerts import models as alerts_models
from entente.core import access, audit
from entente.interop import models as interop_models
from entente.interop.federation import models as federation_models
from entente.interop.taxii import models as taxii_models
from entente.members import models as members_models
from entente.pipeline import models as pipeline_models
from entente.sharing import models as sharing_models

__all__ = [
    "access",
    "alerts_models",
    "audit",
    "federation_models",
    "interop_models",
    "members_models",
    "pipeline_models",
    "sharing_models",
    "taxii_models",
]
