"""Sphinx extension of the book: the paper's numbers on every sphinx-proof statement and
reference, and the book's stylesheet.

sphinx-proof numbers statements with its own counters ("Lemma 1", "Lemma 3"), which would
mislead a reader holding the paper. This extension, loaded after ``sphinx_proof``:

* turns every labelled statement into an unnumbered one titled by :mod:`rnnproof.numbering`:
  "Lemma 5.1 (Indicator to function)", "Claim G.1 (...)", and for our own formulations
  "Proposition R.3 (ours): ..." with the CSS class ``rnnproof-ours`` (a distinct style);
* makes every ``{prf:ref}`` without explicit text read the same number ("Lemma 5.1");
* fails the build for a labelled statement that has no number in the map;
* writes and serves the book's stylesheet (verdict cards and badges in the colours of
  :data:`rnnproof.verdicts.COLOURS`, the style of our own statements).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from .numbering import Number, number

CSS_NAME = "rnnproof.css"

#: The stylesheet; the verdict colours are appended from :data:`rnnproof.verdicts.COLOURS`.
CSS = """
div.proof.rnnproof-ours { border-left: 0.3rem dashed #7b5ea7; background: #f7f4fb; }
div.proof.rnnproof-ours > p.admonition-title { background: #ece6f5; font-style: italic; }
div.proof.rnnproof-ours > p.admonition-title::after {
  content: "our formulation, not the paper's"; float: right; font-size: 0.75em;
  font-weight: normal; color: #5b4a7a; }
.rnnproof-badge { display: inline-block; padding: 0.1em 0.55em; border-radius: 0.8em;
  font-weight: 600; font-size: 0.85em; letter-spacing: 0.02em; }
div.rnnproof-card { border-left: 0.35rem solid #999; margin: 0.8em 0; }
div.rnnproof-card .sd-card-body > p { margin-bottom: 0.35em; }
div.rnnproof-card .rnnproof-headline { font-family: var(--pst-font-family-monospace, monospace);
  font-size: 0.85em; }
div.rnnproof-card table { font-size: 0.85em; }
div.rnnproof-wide table { display: block; overflow-x: auto; }
div.rnnproof-wide td, div.rnnproof-wide th { white-space: normal; word-break: break-word;
  max-width: 22em; }
"""


def _css() -> str:
    from .verdicts import COLOURS, TEXT_COLOURS  # noqa: PLC0415

    rules = [CSS]
    for v, colour in COLOURS.items():
        rules.append(f".rnnproof-v-{v}.rnnproof-badge {{ background: {colour}; "
                     f"color: {TEXT_COLOURS[v]}; }}\n"
                     f"div.rnnproof-card.rnnproof-v-{v} {{ border-left-color: {colour}; }}")
    return "\n".join(rules) + "\n"


def _retitle(node: Any, label: str | None) -> Any:
    """An unnumbered copy of the statement ``node``, titled with its number (``label=None``:
    an unlabelled statement, which is always ours and gets no number)."""
    from sphinx_proof.nodes import unenumerable_node  # noqa: PLC0415

    num = number(label) if label else Number("", node.get("realtype", "remark").title(),
                                             "", True)
    new = unenumerable_node()
    new.attributes.update(node.attributes)
    new.document = node.document
    title, *rest = node.children
    inner = list(title.children)
    # sphinx-proof formats the argument as " (%t)": strip the parentheses, keep any math
    if inner and isinstance(inner[0], nodes.Text):
        inner[0] = nodes.Text(str(inner[0]).lstrip().removeprefix("("))
    if inner and isinstance(inner[-1], nodes.Text):
        inner[-1] = nodes.Text(str(inner[-1]).rstrip().removesuffix(")"))
    has_title = any(str(t).strip() for t in inner if isinstance(t, nodes.Text)) or any(
        not isinstance(t, nodes.Text) for t in inner)
    if num.ours:
        head = [nodes.Text(f"{num.number} (ours)".lstrip() + (": " if has_title else ""))]
        tail: list[Any] = []
        new["classes"].append("rnnproof-ours")
    else:
        head = [nodes.Text(num.number + (" (" if has_title else ""))]
        tail = [nodes.Text(")")] if has_title else []
    new_title = nodes.title("", "", *head, *(inner if has_title else []), *tail)
    new_title["ids"] = list(node["ids"][:1])
    new += new_title
    for child in rest:
        new += child
    new["realtype"] = num.kind.lower()
    new["title"] = new_title.astext()
    return new


def _number_statements(app: Sphinx, doctree: nodes.document) -> None:
    from sphinx_proof.nodes import NODE_TYPES, unenumerable_node  # noqa: PLC0415

    kinds = tuple(NODE_TYPES.values()) + (unenumerable_node,)
    env = app.env
    for node in list(doctree.findall(lambda n: isinstance(n, kinds))):
        label = node.get("label", "")
        real = node.get("realtype", "")
        made_up = label.startswith(f"{real}-") and label[len(real) + 1:].isdigit()
        try:
            new = _retitle(node, None if made_up else label)
        except KeyError as exc:
            raise ExtensionError(f"{env.docname}: {exc.args[0]}") from None
        node.replace_self(new)
        entry = env.proof_list.get(label)
        if entry is not None:
            entry["nonumber"] = True
            if not made_up:
                entry["realtype"] = number(label).kind.lower()


def _setup_domain(app: Sphinx) -> None:
    from sphinx_proof.domain import ProofDomain  # noqa: PLC0415

    class NumberedProofDomain(ProofDomain):
        """sphinx-proof's domain with references that read the paper's numbers."""

        def resolve_xref(self, env: Any, fromdocname: str, builder: Any, typ: str,
                         target: str, node: Any, contnode: Any) -> Any:
            default = target in contnode[0]
            res = super().resolve_xref(env, fromdocname, builder, typ, target, node, contnode)
            if res is None or not default:
                return res
            try:
                text = number(target).text
            except KeyError:
                return res
            for t in list(res.findall(nodes.Text)):
                t.parent.replace(t, nodes.Text(text))
                break
            return res

    app.add_domain(NumberedProofDomain, override=True)


def _write_css(app: Sphinx, exc: Exception | None) -> None:
    """Write the stylesheet into the output's _static folder (after the build copied it)."""
    if exc is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / CSS_NAME).write_text(_css())


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                    doctree: Any) -> None:
    """Drop repeated script entries (sphinx-thebe adds its inline configuration twice under
    Jupyter Book, and the second copy is a JavaScript error: a redeclared const)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for js in context.get("script_files", []):
        name = getattr(js, "filename", js) or ""  # inline scripts: None or ""
        key = (str(name), repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    if "script_files" in context:
        context["script_files"][:] = unique  # in place: it is the builder's own list


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_proof")
    app.set_html_assets_policy("always")  # MathJax on every page: the navigation has formulas
    _setup_domain(app)
    app.connect("doctree-read", _number_statements)
    app.connect("build-finished", _write_css)
    app.connect("html-page-context", _dedupe_scripts, priority=900)  # after the others
    app.add_css_file(CSS_NAME)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
