"""The README's `plan diff 5 6` still works once the demo region has moved well past
plan 6: the default history keeps a day and 1,000 plans. The control, the same region
with history turned off, has cleaned plan 5 away by then."""

from __future__ import annotations

import subprocess

import pytest
from tests.test_readme_commands import Region

pytestmark = pytest.mark.servers

PAST = 16  # with retention 3 and keep_newest 3, plans 5 and 6 are deleted well before


def diff_5_6(region: Region) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        region.argv(["plan", "diff", "5", "6"]),
        cwd=region.root,
        env=region.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("history", [True, False], ids=["default", "control-no-history"])
def test_plan_diff_5_6_after_the_region_moved_on(tmp_path, history):
    region = Region(tmp_path / "demo")
    if not history:
        toml = region.state / "demo.toml"
        text = toml.read_text().replace(
            "[enactors]", "[enactors]\nhistory_age = 0\nhistory_count = 0", 1
        )
        assert "history_count = 0" in text
        toml.write_text(text)
    region.run_until(PAST)
    done = diff_5_6(region)
    assert "Traceback" not in done.stdout + done.stderr
    if history:
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        assert done.returncode != 0 and "5" in done.stdout + done.stderr
