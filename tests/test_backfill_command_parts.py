"""The backfill command's parts on their own: options, redaction, pacing display, summary."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from hubassoc import RateLimit, TransportStats
from hubassoc.backfill import Counters, Summary
from hubassoc.backfill._command import add_parser
from hubassoc.backfill._job import Credentials, OAuthCredentials, UsageError, prepare
from hubassoc.backfill._options import Options, resume_command
from hubassoc.backfill._progress import PacingWatch, PlainReporter
from hubassoc.backfill._redact import RedactingStream, Redactor
from hubassoc.backfill._report import summary_document, write_json_atomically
from hubassoc.events import PacerWaited, RequestSent

SECRET = "pat-na1-zq9x/+=-token"


def parse(*argv: str) -> Options:
    parser = argparse.ArgumentParser(prog="hubassoc")
    add_parser(parser.add_subparsers())
    base = ["backfill", "pairs.csv", "--from-type", "contacts", "--to-type", "companies"]
    return Options.of(parser.parse_args([*base, *argv]))


# --- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--token", SECRET), "HUBSPOT_ACCESS_TOKEN"),
        (("--client-secret", SECRET), "HUBSPOT_CLIENT_SECRET"),
        (("--refresh-token", SECRET), "HUBSPOT_REFRESH_TOKEN"),
        (("--client-id", SECRET), "HUBSPOT_CLIENT_ID"),
        ((f"--refresh-token={SECRET}",), "HUBSPOT_REFRESH_TOKEN"),
        (("--redis", f"redis://user:{SECRET}@localhost:6379/0"), "HUBASSOC_REDIS_URL"),
    ],
)
def test_secrets_on_the_command_line_are_refused_unechoed(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "zq9x" not in err


def test_the_resume_command_keeps_every_option_that_changes_the_run() -> None:
    options = parse(
        *("--rate-limit", "190/10", "--max-line-bytes", "4096", "--summary-json", "s.json"),
        *("--redis", "redis://localhost:6379/1", "--budget-key", "app-1", "--oauth"),
    )
    assert options.rate_limit == RateLimit(190, 10.0)
    assert resume_command(options) == (
        "hubassoc backfill pairs.csv --from-type contacts --to-type companies "
        "--max-line-bytes 4096 --redis redis://localhost:6379/1 --budget-key app-1 "
        "--summary-json s.json --rate-limit 190/10 --oauth"
    )
    assert "--summary-json" not in resume_command(options, input="pairs.dead.csv")
    from_environment = parse("--redis", "--sandbox")
    assert resume_command(from_environment).endswith(" --redis --sandbox")


@pytest.mark.parametrize(
    ("argv", "environ", "says"),
    [
        (("--oauth",), {"HUBSPOT_CLIENT_ID": "id"}, "set HUBSPOT_CLIENT_SECRET, HUBSPOT_REFRESH"),
        (("--budget-key", "k"), {"HUBSPOT_ACCESS_TOKEN": "t"}, "needs --redis"),
        (("--redis",), {"HUBSPOT_ACCESS_TOKEN": "t"}, "HUBASSOC_REDIS_URL, which is unset"),
        ((), {}, "pass --oauth for a public app"),
    ],
)
def test_credentials_come_from_the_environment(
    tmp_path: Path, argv: tuple[str, ...], environ: dict[str, str], says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        prepare(parse(*argv), environ, Redactor())


def test_the_secrets_read_are_redacted_at_once(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("from_id,to_id\n1,2\n")
    redactor = Redactor()
    environ = {
        "HUBSPOT_CLIENT_ID": "client-1",
        "HUBSPOT_CLIENT_SECRET": "secret-2",
        "HUBSPOT_REFRESH_TOKEN": "refresh-3",
        "HUBASSOC_REDIS_URL": "redis://:redis/pass-4@localhost:6379",
    }
    options = Options(
        input=str(path), from_type="contacts", to_type="companies", oauth=True, redis=""
    )
    job = prepare(options, environ, redactor)
    job.reader.close()
    assert job.credentials.oauth == OAuthCredentials("client-1", "secret-2", "refresh-3")
    text = redactor.text("client-1 secret-2 refresh-3 redis/pass-4")
    assert text == "client-1 [redacted] [redacted] [redacted]"
    assert "secret-2" not in repr(job) and "redis-pass" not in repr(job.credentials)
    assert Credentials(token="t0ken").secrets() == ["t0ken"]


# --- redaction ----------------------------------------------------------------------------


def test_the_redactor_takes_out_secrets_in_every_form_and_any_bearer_token() -> None:
    redactor = Redactor([SECRET, None, ""])
    encoded = "pat-na1-zq9x%2F%2B%3D-token"
    text = f"a {SECRET} b {encoded} c Authorization: Bearer other-token d BEARER x.y"
    assert redactor.text(text) == (
        "a [redacted] b [redacted] c Authorization: Bearer [redacted] d BEARER [redacted]"
    )
    assert redactor.data(text.encode()) == redactor.text(text).encode()
    redactor.add("later-token")
    assert redactor.text("x later-token") == "x [redacted]"
    assert "zq9x" not in repr(redactor)
    stream = io.StringIO()
    redacting = RedactingStream(stream, redactor)  # type: ignore[arg-type]
    print(f"token {SECRET}", file=redacting)
    assert stream.getvalue() == "token [redacted]\n"


def test_the_summary_json_is_written_whole(tmp_path: Path) -> None:
    summary = Summary(
        total=10,
        associated=5,
        failed=1,
        failed_by_category={"OBJECT_NOT_FOUND": 1},
        bad=1,
        bad_by_category={"INVALID_ID": 1},
        skipped=2,
        blank=0,
        dead_letter_rows=2,
        requests=3,
        retries=1,
        rate_limited=1,
        elapsed=2.0,
        stop=None,
    )
    options = Options(input="pairs.csv", from_type="contacts", to_type="companies")
    document = summary_document(options, status="finished", exit_status=1, summary=summary)
    assert document.rows["remaining"] == 1 and document.pairs_per_second == 3.0
    assert document.resume_command is not None
    path = tmp_path / "summary.json"
    write_json_atomically(path, b'{"old": 1}')
    write_json_atomically(path, json.dumps({"new": 2}).encode())
    assert json.loads(path.read_text()) == {"new": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


# --- the pacer in the progress display -------------------------------------------------------


async def test_progress_lines_show_the_pacer_wait_and_the_window_in_use() -> None:
    watch = PacingWatch()
    counters = Counters(total=100)
    stream = io.StringIO()
    reporter = PlainReporter(
        counters, lambda: TransportStats(), interval=1.0, stream=stream, pacing=watch
    )
    assert reporter.line(0.0).endswith("retries 0, 429s 0")  # nothing paced: nothing said
    route = "/crm/associations/{version}/{fromObjectType}/{toObjectType}/batch/associate/default"
    watch(RequestSent(method="POST", route=route, attempt=1, batch_size=100))
    assert watch.text() == ""  # not pacing: no window
    watch(PacerWaited(seconds=1.25, reason="window"))
    watch(PacerWaited(seconds=0.5, reason="pause"))
    watch(RequestSent(method="POST", route=route, attempt=1, batch_size=9, in_window=87, limit=100))
    assert reporter.line(1.0).endswith("retries 0, 429s 0, paced 1.8 s, window 87/100")
