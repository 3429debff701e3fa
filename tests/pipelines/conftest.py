"""Pipeline tests import `components` and `pipelines` from the checkout (they are not installed packages)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory):
    """The tiny whole DAG, run twice in a row with caching on; shared by every test that needs a pipeline run.

    Returns (tmp, first, second). The first run's console goes to `tmp/console-first.txt` (what a person
    would see: start/end lines and the summary is printed by `pipelines.run.main`, not here).
    """
    import io

    from tiny_run import tiny_params

    from pipelines import run as run_mod
    from pipelines.end_to_end import o3v_pipeline

    tmp = tmp_path_factory.mktemp("e2e")
    console = io.StringIO()
    first = run_mod.run_local(o3v_pipeline, tiny_params(tmp), tmp / "root", verbose=False, console=console)
    (tmp / "console-first.txt").write_text(console.getvalue())
    second = run_mod.run_local(o3v_pipeline, tiny_params(tmp), tmp / "root", verbose=False, console=io.StringIO())
    return tmp, first, second
