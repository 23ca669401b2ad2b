"""The widget's weight: what every page view pays, and what the open chat needs in total.

Budgets (issue 4): the loader ``widget.js`` at most 5 KB gzipped; loader and chat together
at most 25 KB. 1 KB = 1000 bytes, gzip level 6 (gzip's and most servers' default). The
README and docs/widget.md state the measured sizes; this test keeps them honest.

The two files are the bundle that ``make widget`` builds from ``widget/src`` with esbuild
(docs/widget.md, "Building the widget"); they are measured as served, and checked to be
what the sources build to now.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.env import ROOT

WIDGET = ROOT / "static" / "messenger"
BUNDLE = ("widget.js", "widget-app.js")
LOADER_BUDGET = 5_000
TOTAL_BUDGET = 25_000


def served(name: str) -> bytes:
    path = WIDGET / name
    if not path.exists():
        pytest.fail(f"{path} is missing: it is built from widget/src, run 'make widget'")
    return path.read_bytes()


def gzipped(name: str) -> int:
    return len(gzip.compress(served(name), compresslevel=6, mtime=0))


def test_the_loader_loaded_on_every_page_view_is_at_most_5_kb_gzipped():
    size = gzipped("widget.js")
    assert 1_000 < size <= LOADER_BUDGET, f"widget.js is {size} bytes gzipped (budget 5 KB)"


def test_loader_and_chat_together_are_at_most_25_kb_gzipped():
    total = gzipped("widget.js") + gzipped("widget-app.js")
    assert total <= TOTAL_BUDGET, f"widget.js + widget-app.js: {total} bytes gzipped (budget 25 KB)"


def test_the_served_files_are_what_the_sources_build_to(tmp_path: Path):
    # a bundle older than its sources would be tested and measured instead of the code
    node = shutil.which("node")
    assert node, "node is missing: 'make install' sets it up (scripts/ensure-node.sh)"
    subprocess.run(
        [node, str(ROOT / "widget" / "build.mjs"), "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    for name in BUNDLE:
        assert (tmp_path / name).read_bytes() == served(name), (
            f"static/messenger/{name} is stale: run 'make widget'"
        )


def test_the_bundle_is_minified_and_carries_no_source_map():
    for name in BUNDLE:
        text = served(name).decode()
        assert "sourceMappingURL" not in text
        assert len(text.splitlines()) <= 3, f"{name} is not minified"


def test_the_widget_is_only_these_two_files():
    # a third file would be loaded without being counted here
    assert sorted(p.name for p in WIDGET.glob("*.js")) == sorted(BUNDLE)


def test_the_readme_and_the_widget_docs_state_the_measured_sizes():
    measured = {
        "widget.js": gzipped("widget.js") / 1000,
        "widget-app.js": gzipped("widget-app.js") / 1000,
    }
    measured["both"] = measured["widget.js"] + measured["widget-app.js"]
    for doc in ("README.md", "docs/widget.md"):
        text = (ROOT / doc).read_text()
        rows = re.findall(
            r"^\| `?(widget\.js|widget-app\.js|both)`?[^|]*\|[^|]*\|\s*([\d.]+) KB", text, re.M
        )
        stated = {name: float(kb) for name, kb in rows}
        assert stated.keys() == measured.keys(), f"{doc}: size rows {stated}"
        for name, kb in measured.items():
            assert abs(stated[name] - kb) <= 0.3, (
                f"{doc} says {stated[name]} KB for {name}; it is {kb:.1f} KB gzipped"
            )


def test_the_documented_stub_is_the_one_the_browser_tests_run():
    from tests.e2e.conftest import STUB_SNIPPET

    assert STUB_SNIPPET in (ROOT / "docs" / "widget.md").read_text()
    assert STUB_SNIPPET in (ROOT / "templates" / "demo" / "page.html").read_text()
