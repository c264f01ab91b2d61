"""The verification status page and the Findings page, built from the check registry.

Nothing here is typed by hand: the statements come from the book's sphinx-proof directives
(``:label:`` lines), the verdicts from running every registered check, so the pages cannot go
stale. :func:`validate_labels` raises if a check names a label no chapter defines.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checks
from .checks import CheckResult
from .verdicts import COLOURS as VERDICT_COLOURS
from .verdicts import VERDICTS, weakest

#: The proof's skeleton, as the paper's sketch orders it (edges: premise -> consequence).
PROOF_EDGES: tuple[tuple[str, str], ...] = (
    ("definition-3.1", "definition-3.2"),
    ("definition-3.2", "definition-3.3"),
    ("definition-3.3", "definition-4.1"),
    ("definition-4.1", "equation-5.1"),
    ("definition-complexity", "lemma-5.1"),
    ("lemma-5.1", "lemma-5.2"),
    ("lemma-5.2", "definition-5.3"),
    ("definition-5.3", "lemma-5.4"),
    ("definition-5.3", "claim-G.1"),
    ("equation-5.1", "lemma-5.4"),
    ("equation-3.1", "lemma-5.4"),
    ("equation-5.1", "lemma-step-1"),
    ("definition-sgd", "lemma-step-3"),
    ("lemma-step-1", "lemma-step-3"),
    ("lemma-5.4", "lemma-step-3"),
    ("claim-G.1", "lemma-step-3"),
    ("equation-5.1", "lemma-step-4"),
    ("lemma-step-3", "theorem-step-4-bound"),
    ("lemma-step-4", "theorem-step-4-bound"),
    ("theorem-step-4-bound", "theorem-1"),
    ("theorem-1", "section-4.1"),
)

COLOURS = {**VERDICT_COLOURS, "none": "#e4e4e4", "absent": "#ffffff"}


@dataclass(frozen=True)
class Statement:
    """A sphinx-proof statement of the book: its label, kind, title and chapter."""

    label: str
    kind: str
    title: str
    chapter: str


_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{prf:(\w+)\}\s*(.*)\n((?::\w[\w-]*:.*\n)*)", re.M)


def default_book_dir() -> Path:
    """The book/ folder of the source tree this package runs from."""
    d = Path(__file__).resolve().parents[1] / "book"
    if not d.is_dir():
        raise FileNotFoundError(f"no book/ folder next to the package at {d.parent}")
    return d


def book_statements(book_dir: Path | None = None) -> dict[str, Statement]:
    """Every labelled sphinx-proof directive in the book's chapters, by label."""
    out: dict[str, Statement] = {}
    for md in sorted((book_dir or default_book_dir()).glob("*.md")):
        for m in _DIRECTIVE.finditer(md.read_text()):
            lab = re.search(r"^:label:\s*(\S+)", m.group(4), re.M)
            if lab and m.group(2) != "proof":
                out[lab.group(1)] = Statement(lab.group(1), m.group(2), m.group(3).strip(),
                                              md.stem)
    return out


def validate_labels(statements: Mapping[str, Statement]) -> None:
    """Raise ``ValueError`` if a registered check names a label that no chapter defines."""
    missing = sorted({c.label for c in checks.REGISTRY.values()} - set(statements))
    if missing:
        raise ValueError(f"checks name labels that no chapter defines: {missing}")


def run_all(profile: str | None = None, seed: int = 0) -> dict[str, CheckResult]:
    """Run every registered check (results come from the cache when the chapters ran them)."""
    return {cid: checks.run(cid, profile=profile, seed=seed) for cid in checks.ids()}


#: The seeds of the build-time sample of the status page (at least 5, issue 8).
STATUS_SEEDS = (0, 1, 2, 3, 4)
#: Environment variable naming a sweep file to use instead of the build-time sample.
SWEEP_ENV = "RNNPROOF_SWEEP"


def _badge(verdict: str) -> str:
    return f'<span class="rnnproof-badge rnnproof-v-{verdict}">{verdict}</span>'


def plain_markdown(text: str) -> str:
    """Plain text made safe for Markdown: no emphasis from ``_`` or ``*``, no HTML from
    ``<``, no links from brackets, no table cells from ``|``."""
    out = str(text).replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
    out = out.replace(">", "&gt;").replace("|", "&#124;")
    for ch in "_*[]`$":
        out = out.replace(ch, "\\" + ch)
    return out


def _verdict_of(r: Any) -> str:
    """The verdict a status colour uses: a Stability's modal verdict, or a result's."""
    return r.modal if hasattr(r, "modal") else r.verdict


def label_status(label: str, results: Mapping[str, Any]) -> str:
    """The weakest verdict of the label's checks (:func:`rnnproof.verdicts.weakest`), or
    ``none`` when no check confirms it. ``results`` maps check ids to results, or to their
    :class:`~rnnproof.sweep.Stability` over seeds (then the modal verdict counts)."""
    mine = [_verdict_of(r) for cid, r in results.items()
            if checks.REGISTRY.get(cid) is not None and checks.REGISTRY[cid].label == label]
    mine = [v for v in mine if v in VERDICTS]
    return weakest(mine) if mine else "none"


def verdict_counts(results: Mapping[str, Any]) -> Counter:
    """How many checks have each verdict (the modal verdict for stabilities)."""
    return Counter(_verdict_of(r) for r in results.values())


def seed_sample(profile: str | None = None, seeds: Sequence[int] = STATUS_SEEDS,
                workers: int = 2) -> tuple[dict[str, Any], str]:
    """Every check's verdicts over seeds: its :class:`~rnnproof.sweep.Stability` by check id,
    and a sentence saying where they come from.

    If the environment variable ``RNNPROOF_SWEEP`` names a sweep file (from ``python -m
    rnnproof sweep``), its rows at this build's profile are used. Otherwise the build-time
    sample runs every check at ``seeds`` as a sweep on a LocalCluster of ``workers``
    processes, kept next to the check cache (``RNNPROOF_CHECK_CACHE``) so that a rebuild of
    the same source runs nothing."""
    from . import backend, sweep  # noqa: PLC0415

    prof = backend.profile(profile)
    env = os.environ.get(SWEEP_ENV)
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"{SWEEP_ENV}={env}: no such sweep file")
        rows = [r for r in sweep.read_rows(env) if r.get("profile") == prof]
        if not rows:
            raise ValueError(f"{SWEEP_ENV}={env} has no rows at the {prof} profile")
        stab = {s.id: s for s in sweep.stability(rows) if s.id in checks.REGISTRY}
        hashes = sorted({r.get("source_hash", "?") for r in rows})
        n = max(s.seeds for s in stab.values())
        same = hashes == [checks.source_hash()]
        where = (f"the sweep file `{Path(env).name}` ({n} seeds, {prof} profile, package "
                 f"source {', '.join(hashes)}" + ("" if same else
                                                  f"; this build is {checks.source_hash()}")
                 + ")")
        return stab, where
    folder = Path(os.environ.get("RNNPROOF_CHECK_CACHE") or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"status-sweep-{prof}.jsonl"
    sweep.run_sweep(None, list(seeds), out, profile=prof, workers=workers, progress=False)
    rows = [r for r in sweep.read_rows(out) if r.get("source_hash") == checks.source_hash()]
    stab = {s.id: s for s in sweep.stability(rows) if s.id in checks.REGISTRY}
    return stab, (f"a build-time sample of {len(seeds)} seeds ({prof} profile); set "
                  f"{SWEEP_ENV}=FILE.jsonl to use a larger sweep")


def status_markdown(statements: Mapping[str, Statement],
                    results: Mapping[str, CheckResult],
                    over_seeds: Mapping[str, Any] | None = None) -> str:
    """One table row per check, grouped by statement (a statement without a check gets one row
    saying so): the statement by its number, the check (linked to its card), its verdict at
    seed 0 and its verdicts over the seed sample."""
    from .numbering import number  # noqa: PLC0415

    over_seeds = over_seeds or {}
    lines = ["| statement | check | verdict | over seeds |", "|---|---|---|---|"]
    for lab in sorted(statements, key=lambda s: (statements[s].chapter, s)):
        try:
            name = number(lab).text
        except KeyError:
            name = lab
        ref = f"{{prf:ref}}`{name} <{lab}>`"
        mine = [r for r in results.values() if r.label == lab]
        if not mine:
            lines.append(f"| {ref} | no check yet | | |")
        for r in mine:
            badge = _badge(r.verdict) + (" finding" if r.finding else "")
            stab = over_seeds.get(r.id)
            seeds = (f"{stab.counts_text()} ({100 * stab.stability:.0f}% modal)" if stab
                     else "")
            lines.append(f"| {ref} | {{ref}}`{r.id} <check-{r.id}>` | {badge} | {seeds} |")
    return "\n".join(lines)


def summary_markdown(statements: Mapping[str, Statement], results: Mapping[str, CheckResult],
                     over_seeds: Mapping[str, Any] | None = None) -> str:
    """One line per statement that has checks: the statement, its weakest verdict at seed 0
    and over the seed sample, and how many checks hold it (the intro's summary)."""
    over_seeds = over_seeds or {}
    lines = ["| statement | verdict | over seeds | checks |", "|---|---|---|---|"]
    for lab in sorted(statements, key=lambda s: (statements[s].chapter, s)):
        mine = {cid: r for cid, r in results.items() if r.label == lab}
        if not mine:
            continue
        seeds = {cid: over_seeds[cid] for cid in mine if cid in over_seeds}
        stable = (f"{label_status(lab, seeds)} ({min(s.stability for s in seeds.values()):.0%} "
                  f"of seeds at least)" if seeds else "")
        lines.append(f"| {{prf:ref}}`{lab}` | {label_status(lab, mine)} | {stable} | "
                     f"{len(mine)} |")
    return "\n".join(lines)


def controls_markdown(statements: Mapping[str, Statement]) -> str:
    """Every check's negative controls, one section per check (the cards link here): what each
    control breaks. tests/test_checks.py asserts that each gives a verdict outside {exact,
    confirmed, corrected}."""
    from .numbering import number  # noqa: PLC0415

    out = []
    for cid in checks.ids():
        c = checks.REGISTRY[cid]
        try:
            where = number(c.label).text
        except KeyError:
            where = c.label
        claim = plain_markdown(c.claim)
        out.append(f"(controls-{cid})=\n### `{cid}`\n\n{{prf:ref}}`{where} <{c.label}>`: "
                   f"{claim}\n")
        for name in c.controls:
            note = c.control_notes.get(name, "")
            out.append(f"- `{name}`" + (f": {plain_markdown(note)}" if note else ""))
        out.append("")
    return "\n".join(out)


def dependency_graph(statements: Mapping[str, Statement],
                     results: Mapping[str, Any],
                     edges: Iterable[tuple[str, str]] = PROOF_EDGES,
                     goal: str | None = "theorem-1") -> Any:
    """The proof's dependency graph (a networkx DiGraph): the skeleton of the paper's sketch
    plus every check's ``depends``, restricted to what ``goal`` rests on (``goal=None``: every
    statement). Node attribute ``status`` is pass/fail/none, or ``absent`` for a skeleton
    statement no chapter states yet."""
    import networkx as nx  # noqa: PLC0415

    g = nx.DiGraph()
    g.add_edges_from(edges)
    for cid in results:
        check = checks.REGISTRY[cid]
        for dep in check.depends:
            if dep != check.label:
                g.add_edge(dep, check.label)
    if goal is not None:
        g = g.subgraph(nx.ancestors(g, goal) | {goal}).copy()
    for lab in g.nodes:
        g.nodes[lab]["status"] = (label_status(lab, results) if lab in statements
                                  else "absent")
    return g


def _plain(title: str, limit: int = 30) -> str:
    """A statement title without its math and redundant references, cut to ``limit``."""
    t = re.sub(r"\$[^$]*\$", "", title)
    t = re.sub(r"\((?:[^()]*(?:our formulation|Section|Lemma|Definition|Claim|Example|"
               r"Theorem|Remark|footnote|equation|proof step)[^()]*)\)", "", t, flags=re.I)
    t = " ".join(t.replace("*", "").split())
    return t if len(t) <= limit else t[: limit - 1].rstrip() + "..."


def dependency_dot(g: Any, statements: Mapping[str, Statement]) -> str:
    """The graph as Graphviz DOT: one box per statement, titled by its number
    (:mod:`rnnproof.numbering`), filled with its verdict's colour, linked to the statement;
    arrows run from premise to consequence; a legend of the colours."""
    from .numbering import number  # noqa: PLC0415
    from .verdicts import TEXT_COLOURS  # noqa: PLC0415

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph proof {", "  rankdir=TB; nodesep=0.15; ranksep=0.35;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12, '
             'margin="0.08,0.04", height=0.3];', '  edge [color="#777777", arrowsize=0.6];']
    for lab in sorted(g.nodes):
        status = g.nodes[lab]["status"]
        try:
            num = number(lab)
            text = f"{num.kind} {num.number}" + ("\n(ours)" if num.ours else "")
            head = num.text
        except KeyError:
            text = head = lab
        st = statements.get(lab)
        title = _plain(st.title, 80) if st else "not in the book yet"
        attrs = [f"label={q(text)}", f"fillcolor={q(COLOURS[status])}",
                 f"fontcolor={q(TEXT_COLOURS.get(status, '#222222'))}",
                 f"tooltip={q(f'{head}: {title} ({status})')}"]
        if st:
            attrs.append(f"URL={q(f'{st.chapter}.html#{lab}')}")
            attrs.append('target="_top"')
        if status == "absent":
            attrs.append('style="rounded,dashed"')
        lines.append(f"  {q(lab)} [{', '.join(attrs)}];")
    for a, b in sorted(g.edges):
        lines.append(f"  {q(a)} -> {q(b)};")
    lines.append("}")
    return "\n".join(lines)


def dependency_figure(g: Any, statements: Mapping[str, Statement]) -> str:
    """The graph as MyST Markdown: a legend of the verdict colours, then a ``graphviz``
    directive (rendered as SVG)."""
    import networkx as nx  # noqa: PLC0415

    if not nx.is_directed_acyclic_graph(g):
        raise ValueError(f"the dependency graph has a cycle: {nx.find_cycle(g)}")
    legend = " ".join(_badge(v) for v in VERDICTS) + \
        ' <span class="rnnproof-badge" style="background:#e4e4e4">no check yet</span>'
    return (f"{legend}\n\n```{{graphviz}}\n:align: center\n\n"
            + dependency_dot(g, statements) + "\n```\n")


def figure_labels(book_dir: Path | None = None) -> dict[str, str]:
    """The figure targets of the chapters (``(fig-<check id>)=`` or ``:name: fig-<check id>``),
    by target name, with their chapter."""
    out: dict[str, str] = {}
    for md in sorted((book_dir or default_book_dir()).glob("*.md")):
        text = md.read_text()
        for name in re.findall(r"^\((fig-[\w.-]+)\)=", text, re.M) + \
                re.findall(r"^:name:\s*(fig-[\w.-]+)", text, re.M):
            out[name] = md.stem
    return out


def findings_markdown(statements: Mapping[str, Statement],
                      results: Mapping[str, CheckResult],
                      figures: Mapping[str, str] | None = None) -> str:
    """The Findings page body: the vocabulary of the kinds, a summary table with one line per
    finding, then one section per finding with the statement as printed, what the numbers
    show and what holds (Markdown with LaTeX, typeset on the page), and links to the
    statement, the check's card, the chapter and its figure."""
    from .numbering import number  # noqa: PLC0415
    from .verdicts import FINDING_KINDS  # noqa: PLC0415

    figures = figure_labels() if figures is None else figures
    found = sorted((r for r in results.values() if r.finding),
                   key=lambda r: (list(statements).index(r.label) if r.label in statements
                                  else len(statements), r.id))
    if not found:
        return "No check has recorded a finding."

    def name(label: str) -> str:
        try:
            return number(label).text
        except KeyError:
            return label

    kinds = "\n".join(f"- **{k}**: {v}" for k, v in FINDING_KINDS.items())
    rows = ["| # | finding | kind | statement | verdict |", "|---|---|---|---|---|"]
    sections = []
    for k, r in enumerate(found, 1):
        f = r.finding
        title = f.get("title", r.id).rstrip(".")
        kind = f.get("kind", "")
        rows.append(f"| {k} | [{plain_markdown(title)}](#finding-{r.id}) | {kind} | "
                    f"{{prf:ref}}`{name(r.label)} <{r.label}>` | {_badge(r.verdict)} |")
        st = statements.get(r.label)
        links = [f"statement {{prf:ref}}`{name(r.label)} <{r.label}>`",
                 f"check {{ref}}`{r.id} <check-{r.id}>`"]
        if st:
            links.append(f"chapter {{doc}}`{st.chapter}`")
        if f"fig-{r.id}" in figures:
            links.append(f"{{ref}}`figure <fig-{r.id}>`")
        body = (f"**As printed.** {f['printed']}\n\n**What the numbers show.** "
                f"{f['observed']}\n\n**What holds.** {f['holds']}\n")
        evidence = "  \n".join(f"{_badge(g['verdict'])} {g['headline']}" for g in r.grades)
        sections.append(
            f"(finding-{r.id})=\n### {k}. {plain_markdown(title)}\n\n{_badge(r.verdict)} "
            f"&nbsp; *{kind}* &middot; " + " &middot; ".join(links) + f"\n\n{body}\n"
            f"*Evidence ({r.profile} profile, seed {r.seed}):*  \n{evidence}\n")
    return (f"{kinds}\n\n" + "\n".join(rows) + "\n\n" + "\n".join(sections))
