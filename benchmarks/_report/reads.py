"""Section 6 of the report: complete reads, and reads mixed with writes on one window."""

from __future__ import annotations

from benchmarks import _limits as lim
from benchmarks import _read_clients as rc
from benchmarks import _reads as rd
from benchmarks._report.fmt import n, pct, reps, table, x

__all__ = ["reads_section"]


def reads_section(result: rd.ReadsResult) -> list[str]:
    """The section's markdown lines."""
    return [*_complete(result), *_mixed(result)]


def _histogram(result: rd.ReadsResult) -> str:
    parts = sorted(result.counts_histogram.items(), key=lambda item: int(item[0]))
    return ", ".join(
        f"{pages} page{'' if pages == '1' else 's'}: {count:,}" for pages, count in parts
    )


def _complete(result: rd.ReadsResult) -> list[str]:
    window, rtt = result.window, result.round_trip
    out = [
        "## 6. Complete reads, and reads mixed with writes",
        "",
        f"{result.records:,} contacts seeded directly in the sandbox with 0 to {result.most} "
        f"companies each ({result.seeded:,} associations in all; {result.most} x u^2, u "
        f"uniform, so small counts are common and long ones present), read pages of at most "
        f"{result.page_size}: records needing {_histogram(result)}. Every contender reads "
        f"every record (the official SDK's per-record loop the first {result.loop_records:,}, "
        "and its requests are scaled to every record for the window's least time); "
        f"{reps(result.repeat)} after one small warm-up run each, no rate "
        "limit and no latency, repetition r running every contender once before r+1. "
        "*Returned* counts the distinct associated records each record was given, at most "
        "its seeded ones; requests are the sandbox's count. A record with no associations "
        "is answered as a per-input `NO_ASSOCIATIONS_FOUND` error (a 207), as users report "
        "HubSpot does; hubassoc must give it an empty list, and the official SDK's batch "
        "read is credited with it when it is missing from `results`.",
        "",
        f"*Free window*: the same read with the sandbox enforcing {rd.FREE_REQUESTS} requests "
        f"per {window:g} s and holding each answer {rtt * 1000:g} ms (HubSpot's Free tier and "
        f"round trip at time scale {result.time_scale:g}); hubassoc paced by "
        f"`RateLimit({rd.FREE_REQUESTS}, {window:g})`. *Least under the window* is the "
        f"least time any client needs for that many requests: floor((requests - 1) / "
        f"{rd.FREE_REQUESTS}) windows plus one round trip.",
        "",
    ]
    rows = [
        [
            name,
            rd.WHAT.get(name, ""),
            n(s.requests) + ("" if s.records == result.records else f" ({n(s.requests_all)} *)"),
            f"{n(s.returned)} ({pct(s.share)})",
            n(s.missed),
            f"{n(s.complete)}/{s.records:,}",
            n(s.cpu_per_record_us, 1),
            n(s.wall, 2),
            n(s.window_wall, 2) + (f" ({s.window_429} 429s)" if s.window_429 else ""),
            n(s.window_bound, 2),
        ]
        for name, s in result.summary.items()
    ]
    out += table(
        [
            "contender",
            "what",
            "requests",
            "returned (share of seeded)",
            "missed",
            "records complete",
            "client CPU us/record",
            "wall s (no limit)",
            "wall s, Free window",
            "least under the window, s",
        ],
        rows,
        "llrrrrrrrr",
    )
    out += ["", "Ratios, taken within each repetition, then the median (records per second):", ""]
    out += table(
        ["ratio", "per CPU-s", "per wall-s", "CPU ratio per repetition"],
        [
            [
                f"{item.num} / {item.den}",
                x(item.cpu),
                x(item.wall),
                ", ".join(x(v) for v in item.cpu_reps),
            ]
            for item in result.ratios
        ],
        "lrrl",
    )
    return out + _notes(result)


def _notes(result: rd.ReadsResult) -> list[str]:
    notes = []
    batch = result.summary.get(rd.OFFICIAL_BATCH)
    if batch is not None:
        cut = batch.extra.get("cut_short", 0)
        notes.append(
            f"- The official SDK's batch read in chunks of {rc.OFFICIAL_BATCH_SIZE:,} without "
            f"following `after` misses **{n(batch.missed)} of {batch.seeded:,} associations "
            f"({pct(1 - batch.share)})**: {cut:,} records' answers said more pages followed, "
            "and nothing in the SDK follows them."
        )
        per_association = _cpu_per_association(result)
        if per_association:
            notes.append(
                "- Client CPU per association returned, in microseconds (the fairer unit for "
                f"the batch read that stops at each record's first page): {per_association}."
            )
    pages = result.summary.get(rd.OFFICIAL_PAGES)
    if pages is not None:
        notes.append(
            "- The official SDK's per-record loop is written as a careful user would: "
            f"`limit={rc.OFFICIAL_PAGE_LIMIT}` (its docs' most) and `after` followed to the last "
            "page (its docs describe `after` but show no loop). It is complete, but needs "
            f"{n(pages.requests)} requests for {pages.records:,} records (* "
            f"{n(pages.requests_all)} for all {result.records:,}): at least "
            f"{n(pages.window_bound / 60, 1)} minutes under the Free window, one request per "
            "record and page where hubassoc's reads share each request among up to 1,000."
        )
    return ["", *notes] if notes else []


def _cpu_per_association(result: rd.ReadsResult) -> str:
    return ", ".join(
        f"{name} {s.cpu / s.returned * 1e6:.2f}"
        for name, s in result.summary.items()
        if s.returned > 0
    )


def _mixed(result: rd.ReadsResult) -> list[str]:
    if not result.mixed:
        return []
    first = result.mixed[0]
    ops = ", ".join(f"{count:,} `{op}`" for op, count in first.ops.items())
    out = [
        "",
        f"**Reads mixed with writes under one window.** The sandbox enforces "
        f"{rd.FREE_REQUESTS} requests per {result.window:g} s with a "
        f"{result.round_trip * 1000:g} ms round trip (and sends HubSpot's rate-limit "
        "headers); one hubassoc client, paced by "
        f"`RateLimit({rd.FREE_REQUESTS}, {result.window:g})` (*{lim.FIXED}*) or adaptive, "
        f"`rate_limit=None`, the default (*{lim.ADAPTIVE}*), runs {ops} at once, 64 "
        "calls in flight (a service's handlers); one row per run. Reads are of seeded "
        "records (checked against what was seeded); the writes create new pairs of other "
        "records and archive all of their seeded ones (read back after the run to check).",
        "",
    ]
    rows = [
        [
            m.client,
            n(m.requests),
            n(sum(m.ops.values()) / m.requests, 1) if m.requests else "n/a",
            n(m.wall, 2),
            str(m.rate_limited),
            str(m.sandbox_429),
            f"{m.peak_window}/{rd.FREE_REQUESTS}",
            f"{m.reads_complete:,}/{m.ops['get_associations']:,}",
            f"{m.writes_right:,}/{m.writes_checked:,}",
            str(sum(m.failures.values())),
        ]
        # One client's runs together, in the order the clients ran.
        for m in sorted(result.mixed, key=lambda m: rd.MIXED_CLIENTS.index(m.client))
    ]
    out += table(
        [
            "client",
            "requests",
            "calls per request",
            "wall s",
            "429s (client)",
            "429s (sandbox)",
            "peak window",
            "reads complete",
            "written records right",
            "failed calls",
        ],
        rows,
        "lrrrrrrrrr",
    )
    return out
