"""The README must keep telling the truth about configuration."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_variable_the_settings_read():
    source = (ROOT / "messenger" / "config.py").read_text()
    read = set(re.findall(r'"((?:MESSENGER_[A-Z_]+)|DATABASE_URL|REDIS_URL)"', source))
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert read, "no variables found in config.py"
    assert read - table == set(), f"missing from the README table: {sorted(read - table)}"
    assert table - read == set(), f"in the README but not read by config.py: {sorted(table - read)}"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first = readme.index("make run")
    assert first < readme.index("## Configuration")
    assert readme.index("make test") < readme.index("## Configuration")


def test_readme_links_point_at_existing_docs():
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).is_file(), link
