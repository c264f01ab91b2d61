"""Registered checks, one per claim of the paper (see :mod:`rnnproof.checks.registry`).

Every module in this package is imported on first use, so a new ``checks/<topic>.py`` that
calls :func:`register` needs no further wiring.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import REGISTRY, Check, CheckResult, Outcome, register, run, source_hash

__all__ = ["REGISTRY", "Check", "CheckResult", "Outcome", "register", "run", "ids", "source_hash"]

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "registry" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")


def ids() -> list[str]:
    """All registered check ids, sorted."""
    return sorted(REGISTRY)
