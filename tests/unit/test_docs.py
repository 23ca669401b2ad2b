"""The README must keep telling the truth about configuration."""

import re

from messenger.config import VARIABLES, markdown_table
from tests.support.env import ROOT


def readme_configuration_table(readme: str) -> str:
    """The README's configuration table: from its header row to the first non-table line."""
    lines = readme.splitlines()
    start = lines.index("| variable | default | meaning |")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end]) + "\n"


def test_readme_configuration_table_is_the_declared_one():
    """Generated from the settings declaration; regenerate with `messenger settings`."""
    readme = (ROOT / "README.md").read_text()
    assert readme_configuration_table(readme) == markdown_table(), (
        "the README's configuration table differs from the declaration in "
        "messenger/config/; paste the output of `messenger settings` into README.md"
    )


def test_the_table_has_one_row_per_declared_variable():
    rows = markdown_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{v.name}`" for v in VARIABLES]
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)
    assert all(v.doc and "|" not in v.doc and "|" not in v.default_text for v in VARIABLES)


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first = readme.index("make run")
    assert first < readme.index("## Configuration")
    assert readme.index("make test") < readme.index("## Configuration")


def test_readme_links_point_at_existing_docs():
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).is_file(), link
