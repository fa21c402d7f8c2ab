"""``--profile``: where the client's CPU goes.

Three diagnostics, all separate from the measured runs and written into the
output directory (``benchmarks/out/``):

* ``profile_<contender>.prof`` / ``.txt``: one cProfile'd run of the coalesced
  client, the explicit batch and the pipe (cProfile inflates per-call costs,
  so read it for shape, not for totals);
* ``max_pending.txt``: the coalesced run with the default ``max_pending``
  against one large enough to admit every caller at once, interleaved, CPU
  per pair (no profiler);
* ``explicit_parts.txt``: the explicit batch's work outside HTTP, piece by
  piece (validation, de-duplication, encoding, decoding, matching results to
  inputs), read from cProfile'd runs by function name: only hubassoc's public
  API is called, and a piece whose function was renamed says so.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import _clients as clients
from benchmarks._sandbox_proc import SandboxProcess
from hubassoc import AssociationsClient

__all__ = ["explicit_parts", "max_pending_ab", "profile_hubassoc"]


def _write(profile: cProfile.Profile, path: Path, title: str) -> None:
    profile.dump_stats(path.with_suffix(".prof"))
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)
    path.with_suffix(".txt").write_text(f"{title}\n{text.getvalue()}")


def profile_hubassoc(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    *,
    pairs: int,
    out_dir: Path,
    log: Callable[[str], None],
) -> list[Path]:
    """Profile the coalesced and the explicit contender once each (no limit, no latency)."""
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    url, token = sandbox.url, sandbox.token
    runs: list[tuple[str, Callable[[list[clients.Pair]], clients.Run]]] = [
        ("profile_coalesced", lambda p: clients.hubassoc_coalesced("coalesced", url, token, p)),
        ("profile_explicit", lambda p: clients.hubassoc_explicit("explicit", url, token, p)),
        ("profile_pipe", lambda p: clients.pipe("pipe", url, token, bodies, pairs=len(p))),
    ]
    written = []
    for name, make in runs:
        sandbox.reset()
        batch = ids.pairs(pairs)
        bodies = clients.build_bodies(batch)
        profile = cProfile.Profile()
        profile.enable()
        run = make(batch)
        profile.disable()
        path = out_dir / name
        _write(profile, path, f"{name}: {pairs:,} pairs, {run.cpu:.2f} s CPU under cProfile")
        written.append(path.with_suffix(".txt"))
        log(f"profile written: {path.with_suffix('.txt')}")
    # The A/B needs more callers than the default max_pending (10,000) admits.
    written.append(
        max_pending_ab(sandbox, ids, pairs=max(pairs, 50_000), repeat=5, out_dir=out_dir)
    )
    log(f"diagnostic written: {written[-1]}")
    written.append(explicit_parts(sandbox, ids, pairs=pairs, repeat=5, out_dir=out_dir))
    log(f"diagnostic written: {written[-1]}")
    return written


def _coalesced_cpu(url: str, token: str, pairs: Sequence[clients.Pair], **options: Any) -> float:
    async def go() -> float:
        client = AssociationsClient(token, base_url=url, rate_limit=False, **options)
        call = client.associate_default
        try:
            start = time.process_time()
            await asyncio.gather(
                *[call(clients.FROM_TYPE, f, clients.TO_TYPE, t) for f, t in pairs]
            )
            return time.process_time() - start
        finally:
            await client.aclose()

    return asyncio.run(go())


def max_pending_ab(
    sandbox: SandboxProcess, ids: clients.IdSource, *, pairs: int, repeat: int, out_dir: Path
) -> Path:
    """Coalesced CPU per pair: default max_pending vs one that admits every caller."""
    url, token = sandbox.url, sandbox.token
    variants: dict[str, dict[str, Any]] = {
        "default max_pending (10,000)": {},
        f"max_pending={pairs:,} (every caller admitted)": {"max_pending": pairs},
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    floor: list[float] = []
    for _ in range(repeat):
        for name, options in variants.items():
            sandbox.reset()
            cpu[name].append(_coalesced_cpu(url, token, ids.pairs(pairs), **options))
        floor.append(clients.asyncio_floor("floor", ids.pairs(pairs)).cpu)
    lines = [f"{pairs:,} gathered associate_default calls, {repeat} interleaved runs each"]
    for name, values in [*cpu.items(), ("asyncio floor (no client, no HTTP)", floor)]:
        m = statistics.median(values)
        lines.append(
            f"{name:45} median {m:.3f} s CPU = {m / pairs * 1e6:5.1f} us/pair   "
            f"runs: {', '.join(f'{v:.2f}' for v in values)}"
        )
    path = out_dir / "max_pending.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


#: The explicit batch's own work, piece by piece: (what, names of the functions doing it).
#: Matched by name in the profile, so nothing private is imported; a piece whose
#: function was renamed shows as "not found".
_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("validate ids + de-duplicate", ("_check_pairs",)),
    ("encode request bodies", ("encode_pairs",)),
    ("decode answers (msgspec)", ("<method 'decode' of 'msgspec.json.Decoder' objects>",)),
    ("match results to inputs", ("attribute",)),
)


def explicit_parts(
    sandbox: SandboxProcess, ids: clients.IdSource, *, pairs: int, repeat: int, out_dir: Path
) -> Path:
    """CPU of each piece of the explicit batch's own work, from cProfile'd runs.

    Each of ``repeat`` runs is profiled; per piece, the median of the cumulative
    time its functions took (cProfile inflates per-call costs: read the shares).
    """
    path = out_dir / "explicit_parts.txt"
    seconds: dict[str, list[float]] = {what: [] for what, _ in _PARTS}
    found: dict[str, bool] = {what: False for what, _ in _PARTS}
    totals: list[float] = []
    for _ in range(repeat):
        sandbox.reset()
        batch = ids.pairs(pairs)
        profile = cProfile.Profile()
        profile.enable()
        run = clients.hubassoc_explicit("explicit", sandbox.url, sandbox.token, batch)
        profile.disable()
        totals.append(run.cpu)
        table: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        for what, names in _PARTS:
            cumulative = [
                entry[3]
                for (filename, _, function), entry in table.items()
                if function in names and ("hubassoc" in filename or filename == "~")
            ]
            found[what] = found[what] or bool(cumulative)
            seconds[what].append(sum(cumulative))
    size = clients.BATCH
    lines = [
        f"the explicit batch's own work on {pairs:,} pairs ({pairs // size} batches of {size}), "
        f"median of {repeat} cProfile'd runs (cumulative CPU per piece; cProfile inflates "
        "per-call costs, so read the shares)"
    ]
    total = 0.0
    for what, names in _PARTS:
        if not found[what]:
            lines.append(f"{what:60} not found (no function named {', '.join(names)})")
            continue
        m = statistics.median(seconds[what])
        total += m
        lines.append(f"{what:60} {m * 1000:7.1f} ms = {m / pairs * 1e6:4.2f} us/pair")
    lines.append(f"{'sum':60} {total * 1000:7.1f} ms = {total / pairs * 1e6:4.2f} us/pair")
    whole = statistics.median(totals)
    lines.append(f"{'whole run under cProfile':60} {whole * 1000:7.1f} ms")
    path.write_text("\n".join(lines) + "\n")
    return path
