"""Docs that state facts about the hub say them once and correctly."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_close_code_table_is_one_table_of_codes_the_hub_sends():
    text = (ROOT / "docs/protocol.md").read_text()
    section = text.split("### Close codes", 1)[1]
    table = re.search(r"\| code \| when \| `reconnect` \|\n\|---\|---\|---\|\n((?:\|.*\n)+)", section)
    assert table, "the close-code table is missing"
    rows = [line for line in table.group(1).splitlines()]
    codes = [int(line.split("|")[1]) for line in rows]
    # Every code the hub closes with is in the one table (a blank line used to split it in two).
    assert codes == [1000, 1001, 1002, 1007, 1009, 4001, 4008, 4029], codes
    after = section[table.end():].split("\n\n", 1)[1]
    assert not after.lstrip().startswith("|"), "a second table continues the close codes"
    # 1008 was for a feature that is gone (frames held during token verification).
    assert "256 frames" not in text
