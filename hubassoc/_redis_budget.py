"""One rolling-window budget shared by many processes and hosts, kept in Redis.

HubSpot counts an app's requests in a *rolling* window: any span of ``per``
seconds may hold at most ``requests`` of them, whichever process sent them.
:class:`RedisBudget` keeps the window in one Redis sorted set of reservation
times, so every process pacing on the same key shares one window.

Each reservation is one atomic Lua script: it reads the time from Redis
(hosts whose clocks disagree still agree on the window), registers the caller
as a participant, and reserves the earliest slot ``t >= now`` such that
``(t - (per + margin), t]`` holds at most ``requests`` reservations. Slots are
non-decreasing, so that slot is ``max(now, paused_until, last, s[n + 1 -
requests] + per + margin)``: one ``ZRANGE`` by rank. Each caller sleeps until
its own slot; slots stop :data:`HORIZON_WINDOWS` windows ahead (beyond, the
caller is told when to ask again), which bounds the set. Every key written
gets an expiry, so an abandoned budget disappears; all keys share one hash
tag, ``{hubassoc:<key>}``, for Redis Cluster.

Also shared: the pause after a rolling-window 429, the daily stop after a
DAILY 429 (until midnight in the account's time zone), the daily budget left,
and the limit an adaptive process learned from HubSpot's headers.

:class:`BudgetHealth` is the pure logic the pacer uses when Redis is lost:
when to ask Redis again, and what share of the limit to use locally meanwhile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hubassoc._validation import check_seconds

if TYPE_CHECKING:
    import redis.asyncio
    from redis.commands.core import AsyncScript

__all__ = ["HORIZON_WINDOWS", "BudgetHealth", "BudgetUnavailable", "RedisBudget", "Reservation"]

logger = logging.getLogger("hubassoc")

#: How many windows ahead of Redis-now a slot may be reserved.
HORIZON_WINDOWS = 2
#: Keys live this many windows past the last call that wrote them.
_KEEP_WINDOWS = 4
#: A participant counts as present for this many windows after its last call.
_PARTICIPANT_WINDOWS = 2
#: :meth:`RedisBudget._record_sends` keeps at most this many (the most recent) sends.
MAX_RECORDED_SENDS = 1000
_MAX_KEY_LENGTH = 200
_URL_SCHEMES = ("redis", "rediss", "unix")
#: Reservations whose participant counts make "recent" (a window or two of them).
_RECENT_RESERVATIONS = 64
#: Seconds the first call to Redis may take (it connects and loads the script).
_FIRST_CALL = 1.0
_MAX_CONNECTIONS = 8  # in the pool a budget makes from a URL

# Times inside the scripts are integer microseconds of Redis time: exact in a
# double (epoch microseconds < 2**53) and returned to Python as integers (Redis
# truncates Lua numbers it returns). Numbers are formatted with %.0f before
# being concatenated into a string, because Lua's own tostring() switches to
# exponent notation and loses digits.
_LUA_PRELUDE = """
local function fmt(x) return string.format('%.0f', x) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
"""

# KEYS: sent (zset), state (hash), participants (zset), daily (string)
# ARGV: requests, per_us, margin_us, participant, adaptive ('1' or '0')
# Returns: reserved, wait_us, requests, per_us, participants, daily_stopped, now_us
_RESERVE = (
    _LUA_PRELUDE
    + f"""
local requests = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[2], 'paused_until', 'requests', 'per', 'daily_left')
local paused_until = tonumber(state[1]) or 0
if ARGV[5] == '1' and state[2] and state[3] then
  requests = tonumber(state[2])
  per = tonumber(state[3])
end
local daily_left = tonumber(state[4])
local span = per + margin
local paused = math.max(0, paused_until - now)
local keep_ms = math.ceil({_KEEP_WINDOWS} * span / 1000) + 1

redis.call('ZADD', KEYS[3], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', fmt(now - {_PARTICIPANT_WINDOWS} * span))
local participants = redis.call('ZCARD', KEYS[3])
-- Nothing at or before now - span can be in any window ending at t >= now.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - span))

local reserved = 0
local wait = 0
local daily = 0
local daily_reset = redis.call('PTTL', KEYS[4])
if daily_reset ~= -2 then
  daily = 1
  if daily_reset == -1 then
    -- Written without an expiry by someone else: give it one, so it ends.
    redis.call('PEXPIRE', KEYS[4], 86400000)
    daily_reset = 86400000
  end
  wait = daily_reset * 1000
elseif daily_left and daily_left <= 0 then
  -- The day's budget is in flight: ask again once answers may have said more.
  wait = math.ceil(span / requests)
else
  local slot = math.max(now, paused_until)
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then slot = math.max(slot, tonumber(last[2])) end
  local nth = redis.call('ZRANGE', KEYS[1], -requests, -requests, 'WITHSCORES')
  if nth[2] then slot = math.max(slot, tonumber(nth[2]) + span) end
  local horizon = now + {HORIZON_WINDOWS} * span
  if slot > horizon then
    -- Ask again once the slot is within the horizon; at least one slot's
    -- spacing later, so that a flood of callers does not spin.
    wait = math.max(slot - horizon, math.ceil(span / requests))
  else
    local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
    redis.call('ZADD', KEYS[1], slot, fmt(slot) .. '-' .. seq)
    if daily_left then redis.call('HINCRBY', KEYS[2], 'daily_left', -1) end
    reserved = 1
    wait = slot - now
  end
end
redis.call('HSET', KEYS[2], 'span', fmt(span))
redis.call('PEXPIRE', KEYS[1], keep_ms)
redis.call('PEXPIRE', KEYS[3], keep_ms)
-- The state (with the pause) outlives the pause by the usual few windows.
redis.call('PEXPIRE', KEYS[2], math.ceil(paused / 1000) + keep_ms)
return {{reserved, wait, requests, per, participants, daily, now}}
"""
)

# Extends a key's expiry to at least ms (never shortens it: a pause or a
# longer window set by another call must survive).
_LUA_EXTEND = """
local function extend(key, ms)
  local left = redis.call('PTTL', key)
  if left ~= -2 and left < ms then redis.call('PEXPIRE', key, ms) end
end
"""

# KEYS: state. ARGV: requests, per_us. Returns: now_us.
_PUBLISH_LIMIT = (
    _LUA_PRELUDE
    + _LUA_EXTEND
    + f"""
redis.call('HSET', KEYS[1], 'requests', ARGV[1], 'per', ARGV[2])
local span = math.max(tonumber(redis.call('HGET', KEYS[1], 'span') or 0), tonumber(ARGV[2]))
extend(KEYS[1], math.ceil({_KEEP_WINDOWS} * span / 1000) + 1)
return now
"""
)

# KEYS: state. ARGV: pause_us, default_span_us. Returns: paused_us, now_us.
_PAUSE = (
    _LUA_PRELUDE
    + _LUA_EXTEND
    + f"""
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until') or 0)
if until_ > current then
  redis.call('HSET', KEYS[1], 'paused_until', fmt(until_))
else
  until_ = current
end
local span = tonumber(redis.call('HGET', KEYS[1], 'span') or ARGV[2])
extend(KEYS[1], math.ceil((until_ - now + {_KEEP_WINDOWS} * span) / 1000) + 1)
return {{until_ - now, now}}
"""
)

# KEYS: daily. ARGV: candidate resets, epoch ms, ascending. Returns: reset_ms, now_us.
_STOP_FOR_THE_DAY = (
    _LUA_PRELUDE
    + """
local now_ms = math.floor(now / 1000)
local reset = nil
for i = 1, #ARGV do
  local candidate = tonumber(ARGV[i])
  if candidate > now_ms then reset = candidate; break end
end
-- The host computed the candidates from its own clock; if Redis is days away
-- from it, stop for a day.
if not reset then reset = now_ms + 86400000 end
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if current > reset then reset = current end
redis.call('SET', KEYS[1], fmt(reset))
redis.call('PEXPIREAT', KEYS[1], fmt(reset))
return {reset, now}
"""
)

# KEYS: sent, state, participants. ARGV: participant, default_span_us, ages_us...
# Returns: how many sends were added.
_RECORD_SENDS = (
    _LUA_PRELUDE
    + _LUA_EXTEND
    + f"""
local span = tonumber(redis.call('HGET', KEYS[2], 'span') or ARGV[2])
local count = #ARGV - 2
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count)
local entries = {{}}
for i = 1, count do
  local age = tonumber(ARGV[i + 2])
  if age < span then
    local t = now - age
    entries[#entries + 1] = t
    entries[#entries + 1] = fmt(t) .. '-r' .. (seq - i)
  end
end
if #entries > 0 then redis.call('ZADD', KEYS[1], unpack(entries)) end
redis.call('ZADD', KEYS[3], now, ARGV[1])
local keep_ms = math.ceil({_KEEP_WINDOWS} * span / 1000) + 1
redis.call('PEXPIRE', KEYS[1], keep_ms)
redis.call('PEXPIRE', KEYS[3], keep_ms)
extend(KEYS[2], keep_ms)
return #entries / 2
"""
)

# KEYS: sent, state. ARGV: remaining, since_us (the reported request's slot).
# Returns: the daily budget left. Whatever was reserved after the reported
# request may not have been counted yet: it is taken as spending one each.
_REPORT_DAILY = (
    _LUA_PRELUDE
    + """
local after = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf')
local left = tonumber(ARGV[1]) - after
redis.call('HSET', KEYS[2], 'daily_left', fmt(left))
return left
"""
)

# Stands in for a window that no reservation has stored yet (10 s, HubSpot's).
_DEFAULT_SPAN_US = 10_000_000
_SCRIPTS = (_RESERVE, _PUBLISH_LIMIT, _PAUSE, _STOP_FOR_THE_DAY, _RECORD_SENDS, _REPORT_DAILY)


class BudgetUnavailable(Exception):
    """Redis did not serve the shared budget (unreachable, an error, too slow).

    The pacer catches it and paces locally until Redis is back. ``key`` is
    the budget's, ``reason`` what went wrong; neither holds the password.
    """

    def __init__(self, message: str, *, key: str | None, reason: str) -> None:
        super().__init__(message)
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reservation:
    """What :meth:`RedisBudget._reserve` answered.

    ``wait`` is seconds from ``server_time`` (Redis's clock, epoch seconds) to
    the slot, or, when not ``reserved`` (slot beyond the horizon, the day's
    budget in flight, or ``daily_stopped``), before asking again. ``requests``
    and ``per`` are the limit in force (the published one when adaptive);
    ``participants`` those seen on the key in the last two windows.
    """

    reserved: bool
    wait: float
    requests: int
    per: float
    participants: int
    daily_stopped: bool
    server_time: float


class BudgetHealth:
    """Whether the shared budget is reachable, and when to ask Redis again.

    Pure logic on the caller's loop clock. After a failure :meth:`should_try`
    answers ``True`` once every ``retry_interval`` seconds (doubling on each
    failure in a row, at most ``max_retry_interval``). One warning is logged
    when Redis is lost, one info line when it is back. ``last_participants``
    is the most participants recent reservations counted (undercounting would
    overfill the window).

    Raises:
        TypeError, ValueError: an interval is not a positive number of
            seconds, or ``max_retry_interval < retry_interval``.
    """

    __slots__ = (
        "_failures",
        "_name",
        "_next_try",
        "_recent",
        "answered",
        "available",
        "last_participants",
        "lost_at",
        "max_retry_interval",
        "retry_interval",
    )

    def __init__(
        self, *, name: str = "redis", retry_interval: float = 1.0, max_retry_interval: float = 10.0
    ) -> None:
        self.retry_interval = check_seconds(retry_interval, "retry_interval", positive=True)
        self.max_retry_interval = check_seconds(max_retry_interval, "max_retry_interval")
        if max_retry_interval < retry_interval:
            raise ValueError("max_retry_interval must be >= retry_interval")
        self._name = name
        self.available = True
        self.answered = False  # Redis has answered at least once
        self.lost_at: float | None = None  # the loop time the outage began
        self.last_participants = 1
        self._recent: deque[int] = deque(maxlen=_RECENT_RESERVATIONS)
        self._failures = 0
        self._next_try = 0.0

    def should_try(self, now: float) -> bool:
        """Whether to ask Redis at loop time ``now`` (always, unless it was lost)."""
        return self.available or now >= self._next_try

    def fallback_divisor(self) -> int:
        """What the limit is divided by while Redis is lost: the participants last
        seen, and one more when there were others, for one that may have joined
        since this process last asked (it cannot be seen without Redis)."""
        seen = max(1, self.last_participants)
        return seen + 1 if seen > 1 else 1

    def fallback_share(self, requests: int) -> int:
        """Requests per window this process may send alone while Redis is lost."""
        return max(1, requests // self.fallback_divisor())

    def record_success(self, participants: int | None = None) -> bool:
        """Note that Redis answered (a reservation counted ``participants``);
        return whether that ends an outage."""
        if participants is not None and participants >= 1:
            self._recent.append(participants)
            self.last_participants = max(self._recent)
        self.answered = True
        self._failures = 0
        if self.available:
            return False
        self.available = True
        self.lost_at = None
        logger.info("Redis budget %s is back: pacing on the shared window again", self._name)
        return True

    def record_failure(
        self, now: float, error: object = None, *, requests: int | None = None
    ) -> None:
        """Note that Redis failed at loop time ``now``; schedule the next try.
        ``error`` and ``requests`` (the limit in force) feed the log line."""
        self._failures += 1
        interval = min(self.max_retry_interval, self.retry_interval * 2 ** (self._failures - 1))
        self._next_try = now + interval
        if not self.available:
            logger.debug("Redis budget %s still unavailable: %s", self._name, error)
            return
        self.available = False
        self.lost_at = now
        share = (
            f"{self.fallback_share(requests)}/{requests} requests"
            if requests is not None
            else f"1/{self.fallback_divisor()} of the limit"
        )
        logger.warning(
            "Redis budget %s unavailable (%s): pacing locally at a safe share of %s "
            "until Redis is back",
            self._name,
            error,
            share,
        )


def _check_name(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"key must be a str, not {type(value).__name__}")
    if not 1 <= len(value) <= _MAX_KEY_LENGTH:
        raise ValueError(f"key must be 1 to {_MAX_KEY_LENGTH} characters long")
    # Printable ASCII without spaces; braces would break the Redis Cluster hash tag.
    if not all("!" <= c <= "~" for c in value) or "{" in value or "}" in value:
        raise ValueError(
            f"key must be printable ASCII without spaces or braces ('{{', '}}'), not {value!r}"
        )
    return value


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _safe_url(url: str) -> tuple[str, list[str]]:
    """The URL as shown (no credentials, no query) and the secrets to redact.

    Raises:
        ValueError: not a Redis URL (the message never echoes it: a password).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("the Redis URL cannot be parsed") from None
    if parts.scheme not in _URL_SCHEMES:
        raise ValueError("the Redis URL must start with redis://, rediss:// or unix://")
    secrets = [s for s in (parts.password,) if s]
    secrets += [unquote(s) for s in secrets if unquote(s) != s]
    if parts.scheme == "unix":
        shown = f"unix://{parts.path}"
    else:
        if not parts.hostname:
            raise ValueError("the Redis URL has no host")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        shown = f"{parts.scheme}://{host}:{port or 6379}{parts.path or '/0'}"
    return shown, secrets


def _client_display(client: Any) -> tuple[str, list[str]]:
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    password = kwargs.get("password")
    secrets = [password] if isinstance(password, str) and password else []
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}", secrets
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}", (
        secrets
    )


def _next_midnights(zone: ZoneInfo, around: dt.datetime) -> list[int]:
    """Epoch milliseconds of the midnights in ``zone`` from two days before
    ``around`` to three days after, ascending: the script picks the first one
    after Redis-now, so the host clock only has to be within a day or two."""
    local_day = around.astimezone(zone).date()
    midnights = []
    for days in range(-2, 4):
        day = local_day + dt.timedelta(days=days)
        # Where a zone skips midnight (DST at 00:00), fold=0 maps the missing
        # time to the transition itself: when that day really starts there.
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        midnights.append(round(midnight.timestamp() * 1000))
    return sorted(set(midnights))


class RedisBudget:
    """A rolling-window budget shared through Redis by every process on one key.

    Give one to ``AssociationsClient(shared_budget=...)``; the client's pacer
    does the rest (its methods with a leading underscore are that wiring).

    Args:
        redis: a URL (``redis://[:password@]host:port/db``, ``rediss://`` or
            ``unix://``), for which the budget makes a connection pool and
            closes it in :meth:`aclose`; or a ``redis.asyncio.Redis`` client,
            used as it is and never closed by the budget.
        key: the budget's name (printable ASCII, no spaces or braces, at most
            200 characters); every process using the same HubSpot app should
            use the same key. ``None``: the client gives it a default derived
            from its credentials before first use.
        timeout: seconds any call to Redis may take before the pacer gives up
            on it and paces locally.
        daily_reset_timezone: the IANA time zone whose midnight resets
            HubSpot's daily limit (the HubSpot account's time zone).

    Calls to Redis never hang: each raises :exc:`BudgetUnavailable` when Redis
    fails or is slower than ``timeout``, and notes it in its :class:`BudgetHealth`.

    Raises:
        TypeError: ``redis`` is neither a str nor a ``redis.asyncio.Redis``.
        ValueError: a bad URL, key, timeout or time zone.
        ModuleNotFoundError: redis-py is not installed (``pip install
            hubassoc[redis]``).
    """

    __slots__ = (
        "_client",
        "_closed",
        "_display",
        "_health",
        "_key",
        "_keys",
        "_owned",
        "_scripts",
        "_secrets",
        "_timeout",
        "_zone",
    )

    def __init__(
        self,
        redis: str | redis.asyncio.Redis,
        *,
        key: str | None = None,
        timeout: float = 0.25,
        daily_reset_timezone: str = "UTC",
    ) -> None:
        self._timeout = check_seconds(timeout, "timeout", positive=True)
        self._zone = _zone(daily_reset_timezone)
        key = None if key is None else _check_name(key)
        self._client, self._owned, self._display, self._secrets = _connect(redis, self._timeout)
        self._scripts: dict[str, AsyncScript] = {
            source: self._client.register_script(source) for source in _SCRIPTS
        }
        self._closed = False
        self._health = BudgetHealth(name=f"None at {self._display}")
        self._key: str | None = None
        self._keys: tuple[str, str, str, str] = ("", "", "", "")
        if key is not None:
            self._set_key(key)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("available" if self._health.available else "lost")
        if not self._closed:
            state += f", participants={self._health.last_participants}"
        owner = "owned" if self._owned else "shared"
        return f"<RedisBudget key={self._key!r} at {self._display} ({owner}) [{state}]>"

    # -- key ---------------------------------------------------------------

    @property
    def key(self) -> str | None:
        """The budget's name, or ``None`` until the client gives it its default."""
        return self._key

    @property
    def timeout(self) -> float:
        """Seconds a call to Redis may take."""
        return self._timeout

    @property
    def daily_reset_timezone(self) -> str:
        """The IANA zone whose midnight ends a daily stop."""
        return self._zone.key

    def _resolve_key(self, default: str) -> str:
        """Give the budget ``default`` as its key unless one was set; return the key.

        Raises:
            ValueError, TypeError: ``default`` is not a valid key.
        """
        if self._key is None:
            self._set_key(_check_name(default))
        assert self._key is not None
        return self._key

    def _set_key(self, key: str) -> None:
        tag = f"{{hubassoc:{key}}}"
        self._key = key
        self._keys = (f"{tag}:sent", f"{tag}:state", f"{tag}:participants", f"{tag}:daily")
        self._health._name = f"{key!r} at {self._display}"

    # -- the pacer's wiring: each call raises BudgetUnavailable when Redis fails ---------

    async def _reserve(
        self, *, requests: int, per: float, margin: float, participant: str, adaptive: bool
    ) -> Reservation:
        """Reserve the earliest slot with at most ``requests`` in any ``per + margin``
        seconds (``adaptive``: the published limit, if any).

        Raises:
            RuntimeError: the key is not resolved, or the budget is closed.
        """
        args = [requests, _us(per), _us(margin), participant, "1" if adaptive else "0"]
        answer = await self._run(_RESERVE, list(self._keys), args, requests=requests)
        reserved, wait, in_force, per_in_force, seen, stopped, now = answer
        self._health.record_success(int(seen))  # counts the participants
        return Reservation(
            reserved=bool(reserved),
            wait=max(0, int(wait)) / 1e6,
            requests=int(in_force),
            per=int(per_in_force) / 1e6,
            participants=int(seen),
            daily_stopped=bool(stopped),
            server_time=int(now) / 1e6,
        )

    async def _publish_limit(self, requests: int, per: float) -> None:
        """Publish the limit learned from HubSpot's headers to adaptive reservations."""
        await self._run(_PUBLISH_LIMIT, [self._keys[1]], [requests, _us(per)])

    async def _pause(self, seconds: float) -> float:
        """Hold every process until Redis-now + ``seconds`` (a longer pause stays);
        return the seconds of pause in force."""
        answer = await self._run(_PAUSE, [self._keys[1]], [_us(seconds), _DEFAULT_SPAN_US])
        return int(answer[0]) / 1e6

    async def _stop_for_the_day(self) -> float:
        """Stop every process until the next midnight (Redis's clock) in
        ``daily_reset_timezone``; return the seconds until then."""
        candidates = _next_midnights(self._zone, dt.datetime.now(dt.UTC))
        answer = await self._run(_STOP_FOR_THE_DAY, [self._keys[3]], candidates)
        reset_ms, now_us = int(answer[0]), int(answer[1])
        return max(0.0, reset_ms / 1e3 - now_us / 1e6)

    async def _report_daily(self, remaining: int, since: float) -> int:
        """Note ``-Daily-Remaining`` for a request reserved at ``since`` (Redis
        epoch seconds): what is left is that less every later reservation
        (reservations stop at 0). Return what is left."""
        answer = await self._run(_REPORT_DAILY, list(self._keys[:2]), [remaining, _us(since)])
        return int(answer)

    async def _record_sends(self, ages: Sequence[float], participant: str) -> int:
        """Count sends made while Redis was lost (``ages``: seconds before Redis-now)
        into the window: the :data:`MAX_RECORDED_SENDS` most recent within it.
        Return how many were added."""
        recent = sorted(ages)[:MAX_RECORDED_SENDS]
        sent, state, participants, _ = self._keys
        answer = await self._run(
            _RECORD_SENDS,
            [sent, state, participants],
            [participant, _DEFAULT_SPAN_US, *(_us(max(0.0, age)) for age in recent)],
        )
        return int(answer)

    async def aclose(self) -> None:
        """Close the connection pool if the budget made it (from a URL); a
        client passed in is left open. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owned:
            await self._client.aclose()

    async def _run(
        self, script: str, keys: list[str], args: list[Any], *, requests: int | None = None
    ) -> Any:
        """Run one script within the timeout; translate every failure to
        :exc:`BudgetUnavailable` and note it in the health."""
        if self._closed:
            raise RuntimeError("the RedisBudget is closed")
        if self._key is None:
            raise RuntimeError("the RedisBudget has no key yet")
        from redis.exceptions import RedisError

        try:
            # The first call also connects and loads the script: a cold start
            # on a busy host is not an outage.
            timeout = self._timeout if self._health.answered else max(self._timeout, _FIRST_CALL)
            async with asyncio.timeout(timeout):
                answer = await self._scripts[script](keys=keys, args=args)
        except (RedisError, OSError) as exc:  # TimeoutError included
            reason = _redact(
                f"no answer within {self._timeout:g}s"
                if isinstance(exc, TimeoutError)
                else f"{type(exc).__name__}: {exc}",
                self._secrets,
            )
            now = asyncio.get_running_loop().time()
            self._health.record_failure(now, reason, requests=requests)
            # The cause is chained for debugging; redis-py's messages name the
            # host and port, never the password.
            raise BudgetUnavailable(
                f"the Redis budget {self._key!r} at {self._display} is unavailable: {reason}",
                key=self._key,
                reason=reason,
            ) from exc
        self._health.record_success()
        return answer


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str):
        raise TypeError("daily_reset_timezone must be an IANA time zone name (a str)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"daily_reset_timezone {name!r} is not an IANA time zone name") from None


def _connect(redis: object, timeout: float) -> tuple[redis.asyncio.Redis, bool, str, list[str]]:
    """The client to use, whether the budget owns it, how to show it, its secrets."""
    try:
        import redis.asyncio as aioredis
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "RedisBudget needs redis-py: pip install 'hubassoc[redis]'", name=exc.name
        ) from exc
    if isinstance(redis, aioredis.Redis):
        return (redis, False, *_client_display(redis))
    if not isinstance(redis, str):
        raise TypeError(
            f"redis must be a URL (str) or a redis.asyncio.Redis client, not {type(redis).__name__}"
        )
    display, secrets = _safe_url(redis)
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    try:
        # A few connections, waited for rather than multiplied: a burst of
        # callers queues for them (within the timeout) instead of opening a
        # connection each. No retries inside redis-py: the pacer has its own
        # fallback, and a retry would only eat into the timeout.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis,
            max_connections=_MAX_CONNECTIONS,
            timeout=None,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"the Redis URL {display} is not usable: {_redact(str(exc), secrets)}"
        ) from None
    return aioredis.Redis.from_pool(pool), True, display, secrets
