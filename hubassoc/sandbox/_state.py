"""`SandboxState`: the options in force and the machinery they drive, shared by every part.

The request pipeline, the endpoint handlers and the control API all read one
`SandboxState`: the `SandboxConfig`, what it compiles to (id rules, the
expected ``Authorization`` header, the rate limiters, the fault plan), the
OAuth app (`OAuthAuthority`), the arrival log and the current `Generation`.
Changing options (`apply`) and resetting (`reset`) happen here, and only here.
"""

from __future__ import annotations

import random
from collections import Counter

from ._config import SandboxConfig
from ._faults import FaultPlan
from ._generation import Generation
from ._limits import ArrivalLog, DailyCounter, RollingWindowLimiter
from ._oauth import OAuthAuthority
from ._rules import IdRule

__all__ = ["SandboxState"]


class SandboxState:
    """The sandbox's shared state. Not bound to a loop; times come from the caller."""

    __slots__ = (
        "arrivals",
        "auth_header",
        "auth_required",
        "config",
        "daily",
        "faults",
        "generation",
        "limiter",
        "not_found",
        "oauth",
        "poison",
    )

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.generation = Generation(0, config.seed, track_sends=config.track_sends)
        self.arrivals = ArrivalLog(config.window_seconds)
        self.limiter: RollingWindowLimiter | None = None
        self.daily = DailyCounter(config.daily_limit)
        self.faults = FaultPlan(config.faults, self.generation.rng)
        self.not_found = IdRule(())
        self.poison = IdRule(())
        self.auth_header: str | None = None
        """``Bearer <token>`` of the static token as clients usually send it; ``None``
        when it is not accepted (no token, or ``oauth_only``)."""
        self.auth_required = True
        """Whether API calls must carry a token (a static one or an OAuth one)."""
        self.oauth = OAuthAuthority(config)
        self.apply(config)

    def __repr__(self) -> str:
        return (
            f"<SandboxState generation={self.generation.number} limiter={self.limiter!r} "
            f"daily={self.daily!r} faults={self.faults!r}>"
        )

    def apply(self, config: SandboxConfig) -> None:
        """Put new options in force; stores and counters are kept.

        Raises `ValueError` (leaving the old options in force) if an id rule
        names an invalid object type.
        """
        not_found = IdRule(config.not_found_ids)
        poison = IdRule(config.poison_ids)
        previous = self.config
        self.config = config
        self.not_found = not_found
        self.poison = poison
        generation = self.generation
        if config.seed != previous.seed:
            generation.rng = random.Random(config.seed)
            self.faults.set_random(generation.rng)
        self.faults.set_rates(config.faults)
        if config.rate_limit is None:
            self.limiter = None
        else:
            limit, window = config.rate_limit
            if self.limiter is None:
                self.limiter = RollingWindowLimiter(
                    limit, window, count_rejected=config.count_rejected
                )
            else:
                self.limiter.limit = limit
                self.limiter.window = window
                self.limiter.count_rejected = config.count_rejected
        self.daily.limit = config.daily_limit
        self.arrivals.set_window(config.window_seconds)
        store = generation.store
        if config.track_sends and store.sends is None:
            store.sends = Counter()
        elif not config.track_sends:
            store.sends = None
        static = None if config.token is None or config.oauth_only else config.token
        self.auth_header = None if static is None else f"Bearer {static}"
        self.auth_required = config.token is not None or config.oauth
        self.oauth.configure(config)

    def reset(self) -> None:
        """Start a new generation; forget arrivals, limits and the script. Options stay."""
        config = self.config
        self.generation = Generation(
            self.generation.number + 1, config.seed, track_sends=config.track_sends
        )
        self.faults.set_random(self.generation.rng)
        self.faults.clear()
        self.arrivals.clear()
        if self.limiter is not None:
            self.limiter.clear()
        self.daily.used = 0
