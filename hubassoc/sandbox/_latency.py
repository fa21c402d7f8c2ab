"""Network latency as two one-way trips: in before a request arrives, out after it is answered.

The options give a round trip: ``latency`` seconds plus a jitter drawn from
``[0, jitter]``. Half of ``latency`` is spent on the way in and half on the
way out, and each half draws its own jitter from ``[0, jitter / 2]``: the
round trip stays within ``[latency, latency + jitter]`` (mean ``latency +
jitter / 2``), and two requests sent exactly one window apart can arrive less
than a window apart, as they do over a real network.
"""

from __future__ import annotations

import random

__all__ = ["one_way_trips"]


def one_way_trips(latency: float, jitter: float, rng: random.Random) -> tuple[float, float]:
    """Seconds of the trip in and of the trip out for one request (in is drawn first)."""
    half = latency / 2
    if not jitter:
        return half, half
    spread = jitter / 2
    return half + rng.uniform(0.0, spread), half + rng.uniform(0.0, spread)
