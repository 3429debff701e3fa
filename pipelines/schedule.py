"""Create the recurring retraining run on a KFP cluster: `o3v-retrain` on a 6-field cron schedule.

    KFP_HOST=https://kfp.example.com python -m pipelines.schedule --cron "0 0 3 * * 1"   # make schedule

Each scheduled run fetches `stgr-curated@latest` (and `media@latest`) from the o3v store, so retraining
follows whatever curation last published. KFP's cron has six fields, seconds first (robfig/cron):
"0 0 3 * * 1" = Mondays at 03:00:00. The same object, as the cluster stores it (a ScheduledWorkflow), is
kept for review in manifests/ (docs/deploy.md).
"""

import argparse
import json
import os
import sys
from pathlib import Path

from components import _platform
from pipelines.compile import compile_pipeline
from pipelines.retrain import retrain_pipeline


def check_cron(expr: str) -> str:
    """A 6-field cron (seconds first); a 5-field one gets a hint instead of silently shifting every field."""
    fields = expr.split()
    if len(fields) == 5:
        raise ValueError(f"cron {expr!r} has 5 fields; KFP wants 6 with seconds first, e.g. '0 {expr}'")
    if len(fields) != 6:
        raise ValueError(f"cron {expr!r} must have 6 fields (sec min hour day month weekday)")
    return expr


def create_schedule(
    host: str,
    cron: str,
    *,
    params: dict | None = None,
    experiment: str = "o3v",
    name: str = "o3v-retrain-weekly",
    out_dir: Path = Path("build/pipelines"),
    max_concurrency: int = 1,
):
    """Compile `o3v-retrain` and create a recurring run for it; returns the API's recurring-run object."""
    import kfp

    package = compile_pipeline(retrain_pipeline, out_dir)
    client = kfp.Client(host=host)
    exp = client.create_experiment(name=experiment)
    return client.create_recurring_run(
        experiment_id=exp.experiment_id,
        job_name=name,
        cron_expression=check_cron(cron),
        max_concurrency=max_concurrency,
        no_catchup=True,  # a cluster that was down does not replay every missed week at once
        pipeline_package_path=str(package),
        params=params or {},
        enable_caching=False,  # the point of a schedule is new data: never serve the fetch from cache
        service_account=_platform.SERVICE_ACCOUNT,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the recurring o3v-retrain run on $KFP_HOST.")
    parser.add_argument("--cron", required=True, help='6-field cron, seconds first: "0 0 3 * * 1"')
    parser.add_argument("--host", default=os.environ.get("KFP_HOST"), help="KFP API endpoint (default $KFP_HOST)")
    parser.add_argument("--name", default="o3v-retrain-weekly", help="recurring run name")
    parser.add_argument("--params", default="{}", help="pipeline parameters as JSON (e.g. model, configs)")
    args = parser.parse_args(argv)
    if not args.host:
        parser.error("set KFP_HOST (or --host) to the Kubeflow Pipelines API endpoint")
    try:
        cron = check_cron(args.cron)
    except ValueError as exc:
        parser.error(str(exc))
    run = create_schedule(args.host, cron, params=json.loads(args.params), name=args.name)
    print(f"recurring run {getattr(run, 'recurring_run_id', run)} created on {args.host}: {cron}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
