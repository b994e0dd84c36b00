"""The landing sensor: new or changed DBN files under landing become run requests for their dates.

Layout `landing/GLBX.MDP3/<schema>/<YYYY-MM-DD>/<file>.dbn[.zst]` (what `spymaster_core.io.landing`
writes). The cursor holds, per date, a digest of its files' names, sizes and mtimes; a date whose
digest changed (a file added, replaced or removed) is requested once more with run_key
`<date>:<digest>`, so a re-evaluation never requests the same state twice. Folders that are not
CME trading dates are skipped with a logged reason (the partition does not exist).
"""

import hashlib
import json

import dagster as dg

from spymaster_assets.resources import LakeResource
from spymaster_assets.schedules import daily_job
from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.io import lake

MIN_INTERVAL_S = 60


def landing_digests(landing: lake.LakePath) -> dict[str, str]:
    """{date: sha256 (16 hex) of its DBN files' relative paths, sizes and versions (mtime on disk,
    ETag on S3)} under landing (a local folder or an s3:// prefix)."""
    per_date: dict[str, list[str]] = {}
    root = lake.join(landing, S.DATASET)
    for f in lake.glob(root, "*/*/*.dbn*"):
        size, version = lake.file_info(f)
        rel = str(f).removeprefix(str(root)).lstrip("/")
        per_date.setdefault(rel.split("/")[1], []).append(f"{rel}|{size}|{version}")
    return {d: hashlib.sha256("\n".join(v).encode()).hexdigest()[:16] for d, v in per_date.items()}


@dg.sensor(
    job=daily_job, minimum_interval_seconds=MIN_INTERVAL_S, default_status=dg.DefaultSensorStatus.STOPPED
)
def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    """Request the daily partition job for every date whose landed files changed (see module
    docstring). Off by default: turn it on in the UI (or `dagster sensor start landing_sensor`)."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    now = landing_digests(lake.landing)
    requests, skipped = [], []
    for date, digest in sorted(now.items()):
        if seen.get(date) == digest:
            continue
        try:
            trading = calendar.is_trading_date(date)
        except ValueError:  # a folder name that is not a date
            trading = False
        if not trading:
            skipped.append(date)
            continue
        requests.append(dg.RunRequest(run_key=f"{date}:{digest}", partition_key=date))
    if skipped:
        context.log.info(f"landing folders that are not CME trading dates, skipped: {skipped}")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(now, sort_keys=True))
