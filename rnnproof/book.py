"""Helpers the book's chapters call: the first-cell header, showing a check's result and
gluing every measured number into the prose (myst-nb ``glue``).

Glue names are ``<check id>.<key>`` (for example ``definition-3.3.w_var``), the value a
string formatted to four significant digits, so the prose writes {glue}`definition-3.3.w_var`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import __version__, backend
from .checks import CheckResult


class Text(str):
    """A string whose repr is itself, so myst-nb glues it without quotes."""

    def __repr__(self) -> str:
        return str(self)


def fmt(value: Any, digits: int = 4) -> Text:
    """Format a number (or anything) as glue text."""
    if isinstance(value, (bool, np.bool_)):
        return Text("yes" if value else "no")
    if isinstance(value, (int, np.integer)):
        return Text(f"{int(value):,}")
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            return Text(str(v))
        return Text(f"{v:.{digits}g}")
    return Text(str(value))


def glue(name: str, value: Any, digits: int = 4) -> None:
    """Glue one value under ``name`` (formatted to text first), without displaying it."""
    from myst_nb import glue as _glue  # noqa: PLC0415 (only available with the book extra)

    _glue(name, fmt(value, digits), display=False)


def header() -> None:
    """Print the package version, backend and profile: the first cell of every chapter."""
    print(f"rnnproof {__version__}; backend: {backend.device_description()}; "
          f"profile: {backend.profile()}")


def _scalars(prefix: str, d: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_scalars(f"{prefix}.{k}", v))
        elif np.isscalar(v) or isinstance(v, (bool, np.bool_)):
            out[f"{prefix}.{k}"] = v
    return out


def show(result: CheckResult, glue_numbers: bool = True) -> CheckResult:
    """Display the result as a table and glue its status and every scalar it measured.

    Glued: ``<id>.status`` and ``<id>.verdict`` (the verdict), ``<id>.<key>`` for each scalar in ``measured``
    (nested dictionaries give ``<id>.<key>.<subkey>``), ``<id>.bound.<key>`` and
    ``<id>.regime.<key>`` for the bound and the regime; a bound or regime key that no measured
    key uses is also glued as ``<id>.<key>``.
    """
    from IPython.display import Markdown, display  # noqa: PLC0415

    if glue_numbers:
        glue(f"{result.id}.status", result.verdict)
        glue(f"{result.id}.verdict", result.verdict)
        names = _scalars(result.id, result.measured)
        for part, tag in ((result.bound, "bound"), (result.regime, "regime")):
            for k, v in _scalars(result.id, part).items():
                names[k.replace(result.id, f"{result.id}.{tag}", 1)] = v
                names.setdefault(k, v)
        for k, v in names.items():
            glue(k, v)
    display(Markdown(result.table()))
    return result
