"""Section 2, under HubSpot's limits: pairs per second against the rolling-window ceiling.

The sandbox enforces a rolling window (Free 100/10 s, Professional 190/10 s,
optionally shrunk by ``time_scale``) and holds every answer for a realistic
round trip. Each run carries ``requests x 100 x windows`` pairs, so it lasts
about ``windows`` windows at the ceiling ``requests x 100 / window`` pairs/s.

Besides the tiers, a short 20-per-1-s window measures limit efficiency
(zero 429s, sustained throughput close to the ceiling), and the adaptive
client's run on the Professional tier shows how fast it finds the advertised
limit (capacity after the first window, 429s only in the first window).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _clients as clients
from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median, steady_rate
from hubassoc import RateLimit

__all__ = [
    "ADAPTIVE",
    "FIXED",
    "OFFICIAL",
    "SDK",
    "ClientRun",
    "ClientSummary",
    "LimitsResult",
    "Scenario",
    "run_limits",
]

FIXED = "hubassoc RateLimit"
ADAPTIVE = "hubassoc adaptive"
OFFICIAL = "official SDK + Retry(429)"
SDK = "hubspot-sdk as shipped"
#: The clients whose 429s only the sandbox sees (they retry them silently).
SILENT_RETRIES = (OFFICIAL, SDK)

#: The round trip HubSpot's API takes from a typical client, at time scale 1.
ROUND_TRIP = 0.15
#: The official SDK's urllib3 Retry, as its README suggests for 429s, but allowed on POST.
RETRY_TOTAL = 10
RETRY_BACKOFF = 0.5  # seconds at time scale 1: waits 0, 1, 2, 4, ... s


@dataclass
class Scenario:
    name: str
    requests: int
    window: float
    latency: float
    windows: int
    clients: tuple[str, ...]

    @property
    def label(self) -> str:
        """The name, plus the window actually enforced when the name says otherwise."""
        actual = f"{self.requests}/{self.window:g} s"
        return self.name if self.name.endswith(actual) else f"{self.name} (run as {actual})"

    @property
    def pairs(self) -> int:
        return self.requests * clients.BATCH * self.windows

    @property
    def ceiling(self) -> float:
        """Pairs per second at exactly ``requests`` full batches per window."""
        return self.requests * clients.BATCH / self.window


@dataclass
class ClientRun:
    """One client's run of one scenario in one repetition."""

    pairs: int
    ok: int
    failed: int
    wall: float
    per_s: float
    fraction: float  #: of the ceiling
    sustained_per_s: float  #: after the first window
    sustained_fraction: float
    rate_limited: int  #: 429s (the client's own count; the sandbox's for the official SDK)
    sandbox_429: int
    limited_first_window: int
    limited_later: int
    requests: int
    peak_window: int
    cpu: float
    extra: dict[str, Any] = field(default_factory=dict)
    batches: int = 0  #: batch calls made (hubspot-sdk only)
    failed_batches: int = 0  #: batch calls that failed after the client's own retries
    rate_limited_batches: int = 0  #: of which on a 429


@dataclass
class ClientSummary:
    """One client's runs of one scenario: medians, totals (429s, failures) and maxima."""

    pairs: int
    repeat: int
    per_s: float
    fraction: float
    sustained_per_s: float
    sustained_fraction: float
    wall: float
    requests: float
    cpu: float
    rate_limited: int
    limited_first_window: int
    limited_later: int
    failed: int
    rate_limited_max: int
    peak_window: int
    batches: int = 0  #: totals over the repetitions
    failed_batches: int = 0
    rate_limited_batches: int = 0


@dataclass
class LimitsResult:
    time_scale: float
    scenarios: list[Scenario] = field(default_factory=list)
    #: scenario name -> client -> one run per repetition
    runs: dict[str, dict[str, list[ClientRun]]] = field(default_factory=dict)
    #: scenario name -> client -> medians and totals
    summary: dict[str, dict[str, ClientSummary]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def tier_scenarios(time_scale: float, windows: int) -> list[Scenario]:
    """HubSpot's Free and Professional tiers, with the window and round trip scaled."""
    sdk = (SDK,) if clients.has_hubspot_sdk() else ()
    everyone = (FIXED, ADAPTIVE, OFFICIAL, *sdk)
    window, latency = 10.0 * time_scale, ROUND_TRIP * time_scale
    return [
        Scenario("Free 100/10 s", 100, window, latency, windows, everyone),
        Scenario("Professional 190/10 s", 190, window, latency, windows, everyone),
    ]


def fast_scenario(windows: int) -> Scenario:
    """The quick limit-efficiency check: 20 requests per 1 s window, 15 ms round trip."""
    sdk = (SDK,) if clients.has_hubspot_sdk() else ()
    return Scenario("20/1 s", 20, 1.0, ROUND_TRIP * 0.1, windows, (FIXED, ADAPTIVE, *sdk))


def _run_client(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    scenario: Scenario,
    client: str,
    time_scale: float,
) -> clients.Run:
    url, token = sandbox.url, sandbox.token
    pairs = ids.pairs(scenario.pairs)
    if client == FIXED:
        limit = RateLimit(scenario.requests, scenario.window)
        return clients.hubassoc_coalesced(client, url, token, pairs, rate_limit=limit, trace=True)
    if client == ADAPTIVE:
        return clients.hubassoc_coalesced(client, url, token, pairs, rate_limit=None, trace=True)
    if client == SDK:
        # As it ships: its own two retries and backoff (not scaled by time_scale), no pacing.
        return clients.hubspot_sdk_batch(client, url, token, pairs)
    from urllib3.util.retry import Retry

    retry = Retry(
        total=RETRY_TOTAL,
        status_forcelist=(429,),
        allowed_methods=None,  # urllib3's default skips POST, and batch calls are POSTs
        backoff_factor=RETRY_BACKOFF * time_scale,
    )
    return clients.official_batch(client, url, token, pairs, retry=retry)


def _summarise(run: clients.Run, scenario: Scenario, stats: dict[str, Any]) -> ClientRun:
    window = scenario.window
    per_s = run.ok / run.wall if run.wall > 0 else math.nan
    # From the first window's worth of pairs done to the last completion: the
    # same for a pacer that sends each window's share at its start as for one
    # that spreads it (pairs done "after the first window" would credit the
    # former with the rest of its last window).
    sustained = steady_rate(run.done, scenario.requests * clients.BATCH)
    sandbox_429 = int(stats["by_status"].get("429", 0))
    # hubassoc counts its own 429s; HubSpot's SDKs retry invisibly to the
    # caller, so the sandbox's count stands in for theirs.
    rate_limited = sandbox_429 if run.client in SILENT_RETRIES else run.rate_limited
    return ClientRun(
        pairs=run.pairs,
        ok=run.ok,
        failed=run.failed,
        wall=run.wall,
        per_s=per_s,
        fraction=per_s / scenario.ceiling,
        sustained_per_s=sustained,
        sustained_fraction=sustained / scenario.ceiling,
        rate_limited=rate_limited,
        sandbox_429=sandbox_429,
        limited_first_window=sum(1 for t in run.limited_at if t <= window),
        limited_later=sum(1 for t in run.limited_at if t > window),
        requests=stats["requests"],
        peak_window=stats["peak_window"],
        cpu=run.cpu,
        extra=run.extra,
        batches=run.extra.get("batches", 0),
        failed_batches=run.extra.get("failed_batches", 0),
        rate_limited_batches=run.extra.get("rate_limited_batches", 0),
    )


def _run_rounds(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    scenarios: list[Scenario],
    repeat: int,
    time_scale: float,
    result: LimitsResult,
    log: Callable[[str], None],
) -> None:
    for r in range(repeat):
        for scenario in scenarios:
            sandbox.configure(
                rate_limit=[scenario.requests, scenario.window],
                latency=scenario.latency,
                jitter=0.0,
            )
            for client in scenario.clients:
                sandbox.reset()
                run = _run_client(sandbox, ids, scenario, client, time_scale)
                out = _summarise(run, scenario, sandbox.stats())
                result.runs.setdefault(scenario.name, {}).setdefault(client, []).append(out)
                log(
                    f"limits rep {r + 1}/{repeat} {scenario.name:22} {client:26} "
                    f"{out.per_s:>8,.0f} pairs/s = {out.fraction:6.1%} of ceiling, "
                    f"sustained {out.sustained_fraction:6.1%}, 429s {out.rate_limited}, "
                    f"peak {out.peak_window}/{scenario.requests}, {run.wall:.1f}s"
                )
                if out.failed or out.ok != out.pairs:
                    result.problems.append(
                        f"{scenario.name} {client} rep {r + 1}: {out.failed} of "
                        f"{out.pairs} pairs failed ({out.extra})"
                    )


def run_limits(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    *,
    time_scale: float,
    windows: int,
    fast_windows: int,
    repeat: int,
    fast_repeat: int,
    log: Callable[[str], None],
) -> LimitsResult:
    """The tiers (``repeat`` rounds), then the 20/1 s window (``fast_repeat`` rounds)."""
    result = LimitsResult(time_scale)
    tiers = tier_scenarios(time_scale, windows)
    fast = fast_scenario(fast_windows)
    result.scenarios = [*tiers, fast]
    _run_rounds(sandbox, ids, tiers, repeat, time_scale, result, log)
    _run_rounds(sandbox, ids, [fast], fast_repeat, time_scale, result, log)
    for name, by_client in result.runs.items():
        result.summary[name] = {client: _summary(runs) for client, runs in by_client.items()}
    return result


def _summary(runs: list[ClientRun]) -> ClientSummary:
    return ClientSummary(
        pairs=runs[0].pairs,
        repeat=len(runs),
        per_s=median([run.per_s for run in runs]),
        fraction=median([run.fraction for run in runs]),
        sustained_per_s=median([run.sustained_per_s for run in runs]),
        sustained_fraction=median([run.sustained_fraction for run in runs]),
        wall=median([run.wall for run in runs]),
        requests=median([run.requests for run in runs]),
        cpu=median([run.cpu for run in runs]),
        rate_limited=sum(run.rate_limited for run in runs),
        limited_first_window=sum(run.limited_first_window for run in runs),
        limited_later=sum(run.limited_later for run in runs),
        failed=sum(run.failed for run in runs),
        rate_limited_max=max(run.rate_limited for run in runs),
        peak_window=max(run.peak_window for run in runs),
        batches=sum(run.batches for run in runs),
        failed_batches=sum(run.failed_batches for run in runs),
        rate_limited_batches=sum(run.rate_limited_batches for run in runs),
    )
