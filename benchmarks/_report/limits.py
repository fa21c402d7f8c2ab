"""Section 2 of the report: throughput under HubSpot's rolling-window limits."""

from __future__ import annotations

from benchmarks import _limits as lim
from benchmarks._report.fmt import n, pct, table

__all__ = ["limits_section"]


def limits_section(result: lim.LimitsResult) -> list[str]:
    """The section's markdown lines."""
    scale = result.time_scale
    out = [
        "## 2. Under HubSpot's rate limits",
        "",
        f"Time scale {scale:g}: HubSpot's 10 s window is {10 * scale:g} s here and the round "
        f"trip {lim.ROUND_TRIP * scale * 1000:g} ms (HubSpot-like: {lim.ROUND_TRIP * 1000:g} ms "
        f"at scale 1). Each run carries requests x 100 x windows pairs. The ceiling is "
        "requests x 100 pairs per window. *Sustained* is the rate from the moment the first "
        "window's worth of pairs is done to the last completion. 429s are totals over all "
        "repetitions (hubassoc's own count; for "
        "HubSpot's SDKs the sandbox's, as they retry them silently); peak is the most "
        "requests the sandbox saw in any rolling window (max over repetitions). The official "
        f"SDK uses `Retry(total={lim.RETRY_TOTAL}, status_forcelist=(429,), allowed_methods=None, "
        f"backoff_factor={lim.RETRY_BACKOFF * scale:g})` in a plain loop, as its README suggests "
        "(plus `allowed_methods=None`, without which urllib3 never retries a POST). "
        "The newer async SDK (`hubspot-sdk`) runs as it ships: 8 workers share the 100-pair "
        "batches, with its own two retries (on 429, 408, 409 and 5xx; exponential backoff "
        "from 0.5 s, or `Retry-After`; its waits are not scaled by the time scale) and no "
        "pacing; a batch whose retries run out fails.",
        "",
    ]
    rows = []
    for scenario in result.scenarios:
        for client, s in result.summary.get(scenario.name, {}).items():
            rows.append(
                [
                    scenario.label,
                    client,
                    str(s.repeat),
                    n(s.pairs),
                    n(s.per_s),
                    n(scenario.ceiling),
                    pct(s.fraction),
                    pct(s.sustained_fraction),
                    str(s.rate_limited),
                    f"{s.peak_window}/{scenario.requests}",
                    n(s.wall, 1),
                ]
            )
    out += table(
        [
            "window",
            "client",
            "reps",
            "pairs",
            "pairs/s",
            "ceiling",
            "of ceiling",
            "sustained",
            "429s",
            "peak",
            "wall s",
        ],
        rows,
        "llrrrrrrrrr",
    )
    official = [
        (scenario, result.summary.get(scenario.name, {}).get(lim.OFFICIAL))
        for scenario in result.scenarios
    ]
    notes = [
        f"- The official SDK in a plain loop is bound by the round trip, not by the limit: "
        f"at most one request per {lim.ROUND_TRIP * scale * 1000:g} ms plus its own overhead, "
        f"so {pct(s.fraction)} of the {scenario.name} ceiling."
        for scenario, s in official
        if s is not None
    ]
    notes += [
        f"- hubspot-sdk as shipped at {scenario.name}: **{s.failed_batches} of {s.batches} "
        f"batches failed** ({s.rate_limited_batches} of them on a 429 after its retries), "
        f"{s.failed:,} pairs lost; the sandbox answered {s.rate_limited} 429s; "
        f"{pct(s.fraction)} of the ceiling."
        for scenario in result.scenarios
        if (s := result.summary.get(scenario.name, {}).get(lim.SDK)) is not None
    ]
    if notes:
        out += ["", *notes]
    return out
