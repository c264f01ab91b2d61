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


def _one_line(regime: Mapping[str, Any], limit: int = 9) -> str:
    """The regime in one line: ``key = value`` pairs, lists as ranges."""
    parts = []
    for k, v in regime.items():
        if isinstance(v, Mapping):
            continue
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) for x in v):
            text = f"{fmt(v[0])}..{fmt(v[-1])} ({len(v)})" if len(v) > 2 else \
                ", ".join(fmt(x) for x in v)
        else:
            text = str(fmt(v))
        if len(text) > 40:
            continue
        parts.append(f"{k} = {text}")
        if len(parts) == limit:
            break
    return "; ".join(parts)


def _badge(verdict: str) -> str:
    return f'<span class="rnnproof-badge rnnproof-v-{verdict}">{verdict}</span>'


def card_markdown(result: CheckResult) -> str:
    """The verdict card of a check (MyST Markdown with a sphinx-design card and dropdown):
    the claim, the verdict badge, the headline numbers against the rule, the regime in one
    line, the details collapsed, and a link to the negative controls."""
    from .checks import REGISTRY  # noqa: PLC0415
    from .numbering import number  # noqa: PLC0415
    from .status import plain_markdown  # noqa: PLC0415

    try:
        statement = number(result.label).text
    except KeyError:
        statement = result.label
    lines = [f"(check-{result.id})=", "", "::::{card}",
             f":class-card: rnnproof-card rnnproof-v-{result.verdict}", "",
             f"{_badge(result.verdict)} &nbsp; **{statement}** &middot; check "
             f"`{result.id}`", "", plain_markdown(result.claim), ""]
    for g in result.grades:
        lines.append(f"{_badge(g['verdict'])} <span class=\"rnnproof-headline\">"
                     f"{_html(g['headline'])}</span>  ")
    lines += ["", f"*Rule.* {_html(_rule_line(result.rule))}", "",
              f"*Regime.* {result.profile} profile, seed {result.seed}, {result.backend} "
              f"{result.dtype}; {_html(_one_line(result.regime))}", ""]
    if result.finding:
        lines += [f"*Finding.* {plain_markdown(result.finding.get('title', ''))} "
                  f"({{ref}}`see the finding <finding-{result.id}>`)",
                  ""]
    controls = REGISTRY[result.id].controls if result.id in REGISTRY else ()
    if controls:
        lines += ["*Negative controls* (each must leave exact/confirmed/corrected): "
                  + ", ".join(f"`{c}`" for c in controls)
                  + f" ({{ref}}`what they break <controls-{result.id}>`)", ""]
    lines += [":::{dropdown} Details: every regime and measured field", "",
              _details_table(result), ":::", "::::"]
    return "\n".join(lines)


def _html(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "&#124;"))


def _rule_line(rule: Mapping[str, Any]) -> str:
    """The declared rule in one line."""
    out = []
    for c in rule.get("criteria", []):
        if c["type"] == "equivalence":
            alts = ", ".join(f"{k} ({v:g})" for k, v in c.get("alternatives", {}).items())
            out.append(f"{c['statement']}: margin +/-{fmt(c['margin'])} around "
                       f"{fmt(c['prediction'])} ({c['margin_source']})"
                       + (f", rejecting {alts}" if alts else "") + f", alpha {c['alpha']}")
        elif c["type"] == "below":
            out.append(f"{c['statement']} <= {fmt(c['bound'])} ({c['bound_source']})")
        elif c["type"] == "reach":
            out.append(f"{c['statement']} reaches {fmt(c['target'])} ({c['target_source']})")
        elif c["type"] == "exact":
            tol = c["tolerance"]
            out.append(f"{c['statement']} exactly (to the {tol} round-off of the dtype when it "
                       f"is a deviation)" if isinstance(tol, str) else
                       f"{c['statement']} to {fmt(tol)}")
        else:
            out.append(c.get("statement", c["type"]))
    if rule.get("corrected"):
        out.append("corrected statement: " + "; ".join(c.get("statement", "")
                                                        for c in rule["corrected"]))
    return " | ".join(out)


def _details_table(result: CheckResult) -> str:
    rows = [(f"regime: {k}", v) for k, v in result.regime.items()]
    rows += [(f"measured: {k}", v) for k, v in result.measured.items()]
    rows += [("seconds", result.seconds)]
    body = "\n".join(f"| {_html(k)} | {_html(_cell(v))} |" for k, v in rows)
    return "| field | value |\n|---|---|\n" + body + "\n"


def _cell(v: Any) -> str:
    if isinstance(v, Mapping):
        return "; ".join(f"{k} = {_cell(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if len(v) > 8:
            return f"[{len(v)} values: {_cell(v[0])} .. {_cell(v[-1])}]"
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return str(fmt(v))


def show(result: CheckResult, glue_numbers: bool = True) -> CheckResult:
    """Display the result as a verdict card (:func:`card_markdown`) and glue its verdict and
    every scalar it measured.

    Glued: ``<id>.verdict`` (and ``<id>.status``, the same), ``<id>.<key>`` for each scalar in
    ``measured`` (nested dictionaries give ``<id>.<key>.<subkey>``), ``<id>.regime.<key>`` for
    the regime; a regime key that no measured key uses is also glued as ``<id>.<key>``.
    """
    from IPython.display import Markdown, display  # noqa: PLC0415

    if glue_numbers:
        glue(f"{result.id}.status", result.verdict)
        glue(f"{result.id}.verdict", result.verdict)
        names = _scalars(result.id, result.measured)
        for part, tag in ((result.regime, "regime"),):
            for k, v in _scalars(result.id, part).items():
                names[k.replace(result.id, f"{result.id}.{tag}", 1)] = v
                names.setdefault(k, v)
        for k, v in names.items():
            glue(k, v)
    display(Markdown(card_markdown(result)))
    return result
