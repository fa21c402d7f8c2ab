"""``--profile``: where the client's CPU goes.

Three diagnostics, all separate from the measured runs and written into the
output directory (``benchmarks/out/``):

* ``profile_<contender>.prof`` / ``.txt``: one cProfile'd run of the coalesced
  client, the explicit batch and the pipe (cProfile inflates per-call costs,
  so read it for shape, not for totals);
* ``max_pending.txt``: the coalesced run with the default ``max_pending``
  against one large enough to admit every caller at once, interleaved, CPU
  per pair (no profiler);
* ``explicit_parts.txt``: the explicit batch's work outside HTTP, timed piece
  by piece on the same data (validation, de-duplication, encoding, decoding,
  matching results to inputs). It calls hubassoc's private helpers and says
  so if they have moved.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import statistics
import time
import urllib.request
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


def _sample_answer(url: str, token: str, body: bytes) -> bytes:
    request = urllib.request.Request(
        url + clients.BATCH_PATH,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: bytes = response.read()
    json.loads(answer)  # a JSON answer, not an error page
    return answer


def explicit_parts(
    sandbox: SandboxProcess, ids: clients.IdSource, *, pairs: int, repeat: int, out_dir: Path
) -> Path:
    """CPU of each piece of the explicit batch's own work, on ``pairs`` pairs."""
    path = out_dir / "explicit_parts.txt"
    try:
        from hubassoc._client import _check_pairs
        from hubassoc._default_batches import _pair_sides, encode_pairs
        from hubassoc._models import DEFAULT_ASSOCIATION_BATCH_DECODER
        from hubassoc._outcome import attribute
    except ImportError as exc:
        path.write_text(f"hubassoc's private helpers have moved: {exc}\n")
        return path
    data = ids.pairs(pairs)
    size = clients.BATCH
    sandbox.reset()
    chunk0 = data[:size]
    answer = _sample_answer(sandbox.url, sandbox.token, encode_pairs(chunk0))
    batches = pairs // size

    def validate() -> None:
        list(dict.fromkeys(_check_pairs(data)))

    def encode() -> None:
        for i in range(0, pairs, size):
            encode_pairs(data[i : i + size])

    def decode() -> None:
        for _ in range(batches):
            DEFAULT_ASSOCIATION_BATCH_DECODER.decode(answer)

    decoded = DEFAULT_ASSOCIATION_BATCH_DECODER.decode(answer)

    def match() -> None:
        for _ in range(batches):
            by_pair = {(r.from_.id, r.to.id): r.association_spec for r in decoded.results}
            attribute(chunk0, by_pair, decoded.errors, sides=_pair_sides)

    lines = [
        f"the explicit batch's own work on {pairs:,} pairs ({batches} batches of {size}), "
        f"median of {repeat} timings, process CPU"
    ]
    total = 0.0
    for name, work in [
        ("validate ids + de-duplicate (_check_pairs, dict.fromkeys)", validate),
        ("encode request bodies (encode_pairs)", encode),
        ("decode answers (msgspec Decoder)", decode),
        ("match results to inputs (dict + attribute)", match),
    ]:
        times = []
        for _ in range(repeat):
            start = time.process_time()
            work()
            times.append(time.process_time() - start)
        m = statistics.median(times)
        total += m
        lines.append(f"{name:60} {m * 1000:7.1f} ms = {m / pairs * 1e6:4.2f} us/pair")
    lines.append(f"{'sum':60} {total * 1000:7.1f} ms = {total / pairs * 1e6:4.2f} us/pair")
    path.write_text("\n".join(lines) + "\n")
    return path
