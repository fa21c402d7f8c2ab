"""The service example runs as a new user would run it, and says what it promises."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_service_example_reads_and_writes_through_one_client() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "service.py")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    # Every page of the 1,201 associations, the earlier writes seen by the reads,
    # and the archive queued after the create sent after it.
    assert lines[0] == "contact 1: 1201 companies; contact 2: ['9000']"
    assert lines[1] == "every contact linked: True"
    assert lines[2] == "contact 500 after create then archive: []"
    requests = ast.literal_eval(lines[3].split(": ", 1)[1])
    assert requests["batch/create"] == 3  # 201 creates, 100 a request
    assert requests["batch/read"] <= 5  # 201 reads, 1,201 associations on one record
