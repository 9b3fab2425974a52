"""The paper's tables, from saved results only (no training or attack runs here).

A model table is a list of blocks, one (dataset, arch) group of trained models each, one
row per method, each block ending with the reference row of the theorem's 1-NN classifier;
its cells are our mean over seeds ``± std`` next to the paper's reported value and the
difference. Table 1 is the separation table, one row per dataset; every model table has a
table of its models' soundness checks beside it. The modules, one concept each:

:mod:`lolip.tables.layout`
    a table's layout: :class:`Block`, :class:`TableSpec`, the config's ``tables``
    section (:func:`table_specs`), the columns (:func:`column_attack`);
:mod:`lolip.tables.values`
    the values: metrics and the paper's reported numbers as rows (:func:`model_table`,
    :func:`separation_table`, :func:`load_reported`);
:mod:`lolip.tables.cells`
    the cells and headers as shown (:func:`format_cell`, :func:`column_label`);
:mod:`lolip.tables.rendering`
    the written files: CSV, Markdown, LaTeX, HTML (:func:`write_model_table`,
    :func:`write_sections`, :func:`read_table`);
:mod:`lolip.tables.checks`
    the tables of soundness checks (:func:`checks_table`, :func:`write_checks_table`).

Every name callers use is importable from :mod:`lolip.tables` itself.
"""

from __future__ import annotations

from lolip.tables.cells import (
    MASKING_MARK,
    MASKING_NOTE,
    NOTE,
    column_label,
    format_cell,
)
from lolip.tables.checks import (
    CHECK_ALARMS,
    CHECKS,
    CHECKS_NOTE,
    alarm_evidence,
    check_cell,
    check_records,
    checks_table,
    write_checks_table,
)
from lolip.tables.layout import (
    CHECKS_SUFFIX,
    DEFAULT_ATTACK,
    DROP_SUFFIX,
    FINDINGS_TABLE,
    MODEL_COLUMNS,
    SEPARATION_TABLE,
    Block,
    TableError,
    TableSpec,
    column_attack,
    model_block,
    table_specs,
)
from lolip.tables.rendering import (
    TABLE_EXTS,
    Section,
    read_table,
    tex_escape,
    write_model_table,
    write_sections,
    write_separation_table,
)
from lolip.tables.values import (
    NN_ROW,
    RANDOM_LABEL_COLUMNS,
    SEPARATION_COLUMNS,
    load_reported,
    metric_value,
    model_rows,
    model_table,
    reported_block,
    separation_table,
)

__all__ = [
    "CHECKS",
    "CHECKS_NOTE",
    "CHECKS_SUFFIX",
    "CHECK_ALARMS",
    "DEFAULT_ATTACK",
    "DROP_SUFFIX",
    "FINDINGS_TABLE",
    "MASKING_MARK",
    "MASKING_NOTE",
    "MODEL_COLUMNS",
    "NN_ROW",
    "NOTE",
    "RANDOM_LABEL_COLUMNS",
    "SEPARATION_COLUMNS",
    "SEPARATION_TABLE",
    "TABLE_EXTS",
    "Block",
    "Section",
    "TableError",
    "TableSpec",
    "alarm_evidence",
    "check_cell",
    "check_records",
    "checks_table",
    "column_attack",
    "column_label",
    "format_cell",
    "load_reported",
    "metric_value",
    "model_block",
    "model_rows",
    "model_table",
    "read_table",
    "reported_block",
    "separation_table",
    "table_specs",
    "tex_escape",
    "write_checks_table",
    "write_model_table",
    "write_sections",
    "write_separation_table",
]
