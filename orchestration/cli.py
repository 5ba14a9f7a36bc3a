"""The `edgestats` command line (DESIGN section 8).

Each command is a thin wrapper: it parses arguments, reads `Settings` once, and calls
the module that does the work.  Every failure a user can cause prints one line saying
what to do and exits with code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from edge.config import ConfigError, Settings, UsageError  # noqa: F401 - UsageError: callers'


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return v


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"edgestats: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgestats", description="Privacy-friendly serverless web analytics.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("demo", help="simulate a week, run the pipeline, write the report")

    s = sub.add_parser("simulate", help="synthetic traffic through the edge code")
    s.add_argument("--start", type=parse_date, required=True)
    s.add_argument("--days", type=positive_int, default=1)
    s.add_argument("--pageviews-per-day", type=positive_int, default=1000)
    s.add_argument("--seed", type=int, default=1)

    c = sub.add_parser("collect", help="local CloudFront-shaped collector")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8787)

    i = sub.add_parser("import-logs", help="CloudFront standard access logs into the landing zone")
    i.add_argument("paths", nargs="+")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")

    m = sub.add_parser("materialize", help="run every asset and check for D1..D2 via Dagster")
    m.add_argument("--start", type=parse_date, required=True)
    m.add_argument("--end", type=parse_date, required=True)
    m.add_argument("--waive-blocking-checks", action="store_true",
                   help="let days that fail a blocking ERROR check through to the summaries "
                   "(the failures are still recorded, and the exit code is still 1)")

    r = sub.add_parser("report", help="self-contained HTML dashboard")
    r.add_argument("--start", type=parse_date, required=True)
    r.add_argument("--end", type=parse_date, required=True)
    r.add_argument("--site")
    r.add_argument("--out")

    q = sub.add_parser("sql", help="read-only SQL over the summary tables")
    q.add_argument("query")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (for people, the default), csv or json (for programs)")

    k = sub.add_parser("cost", help="monthly cost model per ingestion door")
    k.add_argument("--pageviews-per-month", type=positive_int, default=1_000_000)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    cmd = args.command
    if cmd == "simulate":
        from edge.simulate import run_cli
        from orchestration import landing_store

        with landing_store.landing_folder(settings) as folder:
            return run_cli(args, settings, folder, landing_store.where(settings))
    if cmd == "collect":
        from edge.collector import run_cli

        return run_cli(args, settings)
    if cmd == "import-logs":
        from edge.logimport import run_cli

        return run_cli(args, settings)
    if cmd == "materialize":
        from orchestration.commands import materialize_cli

        return materialize_cli(args, settings)
    if cmd == "sql":
        from orchestration.commands import sql_cli

        return sql_cli(args, settings)
    if cmd == "demo":
        from orchestration.commands import demo_cli

        return demo_cli(args, settings)
    if cmd == "report":
        from orchestration.report import run_cli

        return run_cli(args, settings)
    if cmd == "cost":
        from orchestration.cost import run_cli

        return run_cli(args, settings)
    raise UsageError(f"unknown command {cmd!r}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return run(args, settings)
    except ConfigError as e:  # includes UsageError
        print(f"edgestats: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
