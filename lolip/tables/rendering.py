"""Writing a table: CSV (all numbers), Markdown, LaTeX and HTML (for the Snakemake report).

Every table is written as CSV (all numbers: ``col``, ``col_std``, ``col_paper``,
``col_diff`` plus ``status``, ``n_seeds`` and, in a model table, ``attack``: the attack of
its bare adversarial columns), Markdown (pandas' ``to_markdown``), LaTeX and HTML
(pandas' ``to_html``), each atomically, one titled :class:`Section` per block; and a
written CSV read back (:func:`read_table`).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lolip.io import atomic_path
from lolip.tables.cells import MASKING_NOTE, NOTE, _shown
from lolip.tables.layout import DEFAULT_ATTACK, SEPARATION_TABLE, TableError, TableSpec
from lolip.tables.values import RANDOM_LABEL_COLUMNS, SEPARATION_COLUMNS

TABLE_EXTS = ("csv", "md", "tex", "html")


@dataclass(frozen=True)
class Section:
    """A titled part of a written table (a block), with its formatted cells and an optional
    line of text under its title."""

    title: str | None
    cells: pd.DataFrame
    text: str = ""


def write_model_table(
    df: pd.DataFrame, spec: TableSpec, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`model_table` to ``paths`` (csv, md, tex, html), one section per block."""
    sections = [
        Section(
            block.title,
            _shown(
                df[df["block"] == block.name], "row", spec.columns, spec.attack, header="method"
            ),
        )
        for block in spec.blocks
    ]
    if df.get("masking_suspected", pd.Series(dtype=float)).fillna(0).gt(0).any():
        caption = f"{caption} {MASKING_NOTE}"
    write_sections(df, sections, paths, caption=caption, label=spec.name)


def write_separation_table(
    df: pd.DataFrame, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`separation_table` to ``paths`` (csv, md, tex, html)."""
    columns = [c for c in (*SEPARATION_COLUMNS, *RANDOM_LABEL_COLUMNS) if c in df.columns]
    write_sections(
        df,
        [Section(None, _shown(df, "dataset", columns, DEFAULT_ATTACK, header="dataset"))],
        paths,
        caption=caption,
        label=SEPARATION_TABLE,
    )


def write_sections(
    df: pd.DataFrame,
    sections: Sequence[Section],
    paths: Sequence[str | os.PathLike],
    *,
    caption: str,
    label: str,
    note: str = NOTE,
    align: str = "right",
) -> None:
    """Each of ``paths`` in the format of its suffix (csv, md, tex, html), atomically."""
    formats = [Path(p).suffix.removeprefix(".") for p in paths]
    if unknown := [str(p) for p, f in zip(paths, formats, strict=True) if f not in TABLE_EXTS]:
        raise TableError(f"table outputs must end in one of {TABLE_EXTS}, got {unknown}")
    for path, fmt in zip(paths, formats, strict=True):
        with atomic_path(path) as tmp:
            if fmt == "csv":
                df.to_csv(tmp, index=False, float_format="%.6g")
            elif fmt == "md":
                tmp.write_text(_markdown(sections, caption, note))
            elif fmt == "tex":
                tmp.write_text(_latex(sections, caption, label, note))
            else:
                tmp.write_text(_html(sections, caption, note, align))


def _markdown(sections: Sequence[Section], caption: str, note: str = NOTE) -> str:
    parts = [caption, ""]
    for s in sections:
        if s.title:
            parts += [f"**{s.title}**", ""]
        if s.text:
            parts += [s.text, ""]
        parts += [s.cells.to_markdown(index=False), ""]
    return "\n".join([*parts, note, ""] if note else [*parts, ""])


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "ε": r"$\varepsilon$",
    "∞": r"$\infty$",
}


def tex_escape(text: str) -> str:
    """``text`` as LaTeX source: special characters escaped, ± ε ∞ as math."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex(sections: Sequence[Section], caption: str, label: str, note: str = NOTE) -> str:
    header = list(sections[0].cells.columns)
    n = len(header)
    lines = [
        r"\begin{table}",
        r"\centering",
        r"\small",
        rf"\caption{{{tex_escape(' '.join(filter(None, (caption, note))))}}}",
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{'l' * n}}}",
        r"\toprule",
        " & ".join(tex_escape(h) for h in header) + r" \\",
    ]
    for s in sections:
        lines.append(r"\midrule")
        if s.title:
            lines.append(rf"\multicolumn{{{n}}}{{l}}{{\textbf{{{tex_escape(s.title)}}}}} \\")
        for _, r in s.cells.iterrows():
            lines.append(" & ".join(tex_escape(v) for v in r) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _html(sections: Sequence[Section], caption: str, note: str = NOTE, align: str = "right") -> str:
    style = (
        "body{font-family:sans-serif;font-size:14px}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        f"th,td{{border:1px solid #ccc;padding:3px 8px;text-align:{align}}}"
        "td:first-child,th:first-child{text-align:left}"
        "td.bad{background:#fde2e2;color:#8a1010;font-weight:bold}"
        "h3{margin-bottom:0.3em}h3+p{margin-top:0;color:#444}"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><style>' + style + "</style></head><body>",
        f"<p>{html.escape(caption)}</p>",
    ]
    for s in sections:
        if s.title:
            parts.append(f"<h3>{html.escape(s.title)}</h3>")
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        cells = s.cells.to_html(index=False, escape=True, border=0)
        parts.append(re.sub(r"<td>(FAIL|ALARM)", r'<td class="bad">\1', cells))
    parts += [f"<p>{html.escape(note)}</p>"] if note else []
    parts += ["</body></html>", ""]
    return "\n".join(parts)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A written CSV back as a DataFrame (row names stay strings, e.g. ``rst0.5``)."""
    return pd.read_csv(path, dtype={"row": str, "dataset": str, "block": str}, keep_default_na=True)
