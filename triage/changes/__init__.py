"""What changed before it broke: a timeline of the recent changes to the
resources a diagnosis read, from CloudTrail (LookupEvents, else the trail's
log files in S3), else from the resources' own metadata, with each change
that may explain a finding linked to it.

- kinds.py      the resource kinds, their ARNs and the request parameters that name them
- events.py     CloudTrail records -> changes (one matching code for every source)
- describe.py   what each change did: fields before -> after, policy statements, deletions
- lookup.py     LookupEvents, paced at 2 requests a second per account and region
- trailfiles.py the trail's gzipped log files, listed by day and parsed as a stream
- metadata.py   Lambda LastModified and versions, IAM policy versions
- collect.py    one run's collector (engine.run's `changes=`), the Timeline it returns
- present.py    the "Recent changes" section of text and Markdown output

Read-only like the rest of triage; reading a trail's log file is the read-only
guard's one exception (readonly.trail_reads)."""
from __future__ import annotations

from .collect import STEP, Request, Timeline, Watch, check_since, request_from_args, watch_resources

__all__ = ["STEP", "Request", "Timeline", "Watch", "check_since", "request_from_args", "watch_resources"]
