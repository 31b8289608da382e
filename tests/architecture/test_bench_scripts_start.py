"""Every benchmark script starts: ``python bench/<script>.py --help`` answers without error.

The benchmarks run on demand, never in the suite, so a module they import before Django is set up
(``bench/generate_network.py`` reads the customers CSV's columns) could break them silently when
the code they import moves: issue 21's redesign did, once (the columns then imported the models).
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path for path in (ROOT / "bench").glob("*.py")
                 if path.name != "__init__.py" and "argparse" in path.read_text())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_the_benchmark_script_starts(script):
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,  # noqa: S603 (our own scripts)
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})
    assert done.returncode == 0, f"{script.name} --help failed:\n{done.stderr[-2000:]}"
    assert "usage:" in done.stdout
