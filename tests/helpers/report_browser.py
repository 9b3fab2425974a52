"""A Snakemake report rendered in headless Chromium, for the tests.

:func:`ensure_installed` installs Debian's ``chromium`` where it is missing (root and a
reachable package registry needed; otherwise :class:`BrowserUnavailable` says why).

Snakemake's report is a single-page React app with no URL routing: which category,
result and caption it shows is the app's state, set by its menu's clicks through the global
``app.setView``. :func:`render` therefore opens a copy of the report with one more script
at the end of its body that waits for the app and calls ``app.setView`` with the given view
(the state a click would set), then lets Chromium run the page's timers
(``--virtual-time-budget``) and dumps the rendered DOM, or takes a screenshot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.apt import apt_install

PACKAGE = "chromium"
NAMES = ("chromium", "chromium-browser", "google-chrome")
BUDGET_MS = 10000


class BrowserUnavailable(RuntimeError):
    """No headless Chromium here, and none can be installed; the message says why."""


def browser() -> str | None:
    return next((path for path in map(shutil.which, NAMES) if path), None)


def ensure_installed(timeout: float = 900) -> str:
    """The path of a Chromium, installed with apt-get if there is none."""
    if found := browser():
        return found
    apt_install(
        [PACKAGE],
        missing=f"no Chromium ({', '.join(NAMES)})",
        error=BrowserUnavailable,
        timeout=timeout,
    )
    if (found := browser()) is None:
        raise BrowserUnavailable(f"{PACKAGE} installed, but none of {NAMES} is on the PATH")
    return found


def report_data(report: Path, name: str) -> Any:
    """A ``var <name> = ...;`` of the report's data scripts (results, categories)."""
    text = report.read_text()
    start = text.index(f"var {name} = ") + len(f"var {name} = ")
    end = text.index(";\n", start)
    return json.loads(text[start:end])


def with_view(report: Path, view: dict[str, Any], result: str | None, out: Path) -> Path:
    """A copy of ``report`` that opens at ``view`` (``app.setView``'s argument); with
    ``result``, its content shows that result as the eye button's click does."""
    setup = f"var view = {json.dumps(view)};"
    if result is not None:
        setup += (
            f"var path = {json.dumps(result)};"
            "view.content = getResultMimeType(path) === 'text/html' ? 'html' : 'img';"
            "view.contentPath = results[path].data_uri; view.resultPath = path;"
        )
    script = (
        "<script>(function go() {"
        "if (typeof app === 'undefined' || !app) { setTimeout(go, 50); return; }"
        f"{setup} app.setView(view);"
        "})();</script>"
    )
    text = report.read_text()
    end = text.rindex("</body>")
    out.write_text(text[:end] + script + text[end:])
    return out


def _run(chromium: str, page: Path, *args: str, timeout: float = 120) -> str:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--hide-scrollbars",
        f"--virtual-time-budget={BUDGET_MS}",
        *args,
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"chromium failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


def dom(chromium: str, page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return _run(chromium, page, "--dump-dom")


def navbar(page: str) -> str:
    """The rendered menu (the outer ``<nav>`` element, breadcrumbs included) of a dumped
    report page."""
    return page[page.index("<nav") : page.rindex("</nav>")]


def screenshot(chromium: str, page: Path, out: Path, size: tuple[int, int] = (1500, 1000)) -> Path:
    """A PNG of the rendered page at ``size`` (width, height)."""
    _run(chromium, page, f"--window-size={size[0]},{size[1]}", f"--screenshot={out}")
    if not out.exists():
        raise AssertionError(f"chromium wrote no screenshot to {out}")
    return out
