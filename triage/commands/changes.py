"""`triage changes --resource NAME|ARN ... [--since 24h]`: what changed on
these resources recently, newest first, from CloudTrail (LookupEvents, else
the trail's log files), else their metadata. The same section every
diagnosis ends with; JSON is {"changes": [...] or null, "change_search": {...}}.
Exit 0 when a source answered, 4 when none could be read (the reason is
said), 3 when AWS could not be reached."""
from __future__ import annotations

from ..errors import ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("--resource", action="append", default=[], required=True, metavar="NAME|ARN",
                        help="a resource: its ARN, or a name (matched in every service); repeatable")
    parser.add_argument("--since", metavar="DURATION", help="how far back (default: 24h; also --changes-since)")


@command("changes", "what changed recently on resources (CloudTrail, read-only), newest first",
         arguments=_arguments, aws=True)
def cmd_changes(args, env) -> int:
    from ..aws import Aws
    from ..changes import Request, Watch, check_since, watch_resources
    from ..render.json import render_json
    from ..sanitize import deep_clean
    from .run import DEFAULT_DEADLINE, aws_settings, color_option, option

    values = [v.strip() for item in args.resource for v in item.split(",") if v.strip()]
    if not values:
        raise UsageError("--resource needs a name or an ARN", "e.g. --resource orders-etl")
    since = check_since(args.since, "--since") or check_since(option(args, "changes_since"))
    aws = Aws(aws_settings(args))
    aws.session  # an unknown --profile is reported now
    region = aws.region
    resources = watch_resources(values, region)
    timeline = Watch(Request(since), aws, region, resources=resources,
                     deadline=option(args, "deadline", DEFAULT_DEADLINE)).finish()
    data = deep_clean(aws.redactor.deep(timeline.to_dict(aws.redactor)))
    bare = [r.name for r in resources if r.kind is None]
    if data["changes"] is None and bare and not timeline.unreachable and data["change_search"].get("reason"):
        # CloudTrail could not be read, and resource metadata needs to know the service:
        # say so, rather than let "could not check" read as if metadata had been tried
        data["change_search"]["reason"] += (
            f"; resource metadata was not read for {', '.join(bare)}: a bare name could be any service, "
            "give its ARN (e.g. --resource arn:aws:lambda:REGION:ACCOUNT:function:NAME) to read it")
    data["change_search"]["region"] = region
    fmt = option(args, "output", "text")
    if fmt == "json":
        render_json(data, env.stdout)
    elif fmt == "markdown":
        from ..changes.present import markdown_lines
        env.stdout.write("\n".join(markdown_lines(data)) + "\n")
    else:
        from rich.text import Text

        from ..changes.present import text_renderable
        from ..render.text import console_for
        console = console_for(env.stdout, color_option(args))
        console.print(Text.assemble(("triage changes ", "bold"), ", ".join(values), (f"  (region {region})", "muted")))
        console.print(text_renderable(data))
    if data["changes"] is not None:
        return ExitStatus.OK
    if timeline.unreachable:
        env.stderr.write(f"triage: AWS unavailable: {timeline.unreachable}\n")
        return ExitStatus.AWS_UNAVAILABLE
    return ExitStatus.INCONCLUSIVE
