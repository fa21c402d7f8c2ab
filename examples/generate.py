"""Generate an input file for ``hubassoc backfill``: contact -> company id pairs.

Usage::

    python examples/generate.py --rows 1000000 --out /tmp/pairs.csv
    python examples/generate.py --rows 1000000 --out /tmp/pairs.jsonl
    python examples/generate.py --rows 1000 --bad 7 --duplicates 3 \\
        --out examples/contacts-companies.csv

Each contact (``from_id``, distinct and increasing) belongs to one company
(``to_id``, drawn from a pool a tenth the size), so the pairs are distinct
unless ``--duplicates`` repeats some. ``--bad`` spreads that many deliberately
bad rows through the file (an empty id, a non-numeric id, a missing column,
broken quoting, ... ; for JSON Lines, invalid JSON and a non-object too), to
show the dead-letter file at work. The format follows the extension
(``.csv``, ``.jsonl``/``.ndjson``) unless ``--format`` says otherwise. Output
is deterministic for a given ``--seed``. Writes about a million rows a second.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

FIRST_CONTACT = 1001
_CSV_BAD = (
    "{f},",  # empty to id
    "{f},12a",  # not a number
    ",{t}",  # empty from id
    "{f}",  # missing column
    '{f},"{t}',  # broken quoting: unclosed quote
    "{f},-{t}",  # negative
    "{f},99999999999999999999",  # larger than int64
)
_JSONL_BAD = (
    '{{"from_id": "{f}", "to_id": ""}}',  # empty id
    '{{"from_id": "{f}", "to_id": "12a"}}',  # not a number
    '{{"from_id": "{f}"}}',  # missing key
    '{{"from_id": "{f}", "to_id": {t}',  # invalid JSON
    '["{f}", "{t}"]',  # not an object
    '{{"from_id": {f}.5, "to_id": {t}}}',  # not an integer
    '{{"from_id": "{f}", "to_id": null}}',  # null id
)


def _format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise SystemExit(f"cannot tell the format of {path} from its extension; pass --format")


def generate(out: Path, *, rows: int, fmt: str, bad: int, duplicates: int, seed: int) -> None:
    """Write ``rows`` data rows to ``out`` (``bad`` and ``duplicates`` of them included)."""
    if bad + duplicates >= rows:
        raise SystemExit("--bad plus --duplicates must leave at least one good row")
    rng = random.Random(seed)
    companies = max(1, rows // 10)
    special = rng.sample(range(1, rows), bad + duplicates)
    bad_slots = set(special[:bad])
    duplicate_slots = set(special[bad:])
    templates = _CSV_BAD if fmt == "csv" else _JSONL_BAD
    earlier: list[tuple[int, int]] = []  # pairs a duplicate may repeat
    contact = FIRST_CONTACT
    bad_written = 0
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        if fmt == "csv":
            f.write("from_id,to_id\n")
        buffer: list[str] = []
        for slot in range(rows):
            if slot in bad_slots:
                template = templates[bad_written % len(templates)]
                bad_written += 1
                line = template.format(f=contact, t=rng.randrange(1, companies + 1))
                contact += 1
            elif slot in duplicate_slots:
                line = _good_line(fmt, *earlier[rng.randrange(len(earlier))])
            else:
                pair = (contact, rng.randrange(1, companies + 1))
                contact += 1
                if len(earlier) < 10_000:
                    earlier.append(pair)
                line = _good_line(fmt, *pair)
            buffer.append(line)
            if len(buffer) >= 10_000:
                f.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            f.write("\n".join(buffer) + "\n")


def _good_line(fmt: str, from_id: int, to_id: int) -> str:
    if fmt == "csv":
        return f"{from_id},{to_id}"
    return f'{{"from_id":"{from_id}","to_id":"{to_id}"}}'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="data rows to write")
    parser.add_argument("--out", type=Path, required=True, help="the file to write")
    parser.add_argument("--format", choices=("csv", "jsonl"), default=None)
    parser.add_argument("--bad", type=int, default=0, help="deliberately bad rows among them")
    parser.add_argument("--duplicates", type=int, default=0, help="rows repeating an earlier pair")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.bad < 0 or args.duplicates < 0:
        parser.error("--rows must be >= 1, --bad and --duplicates >= 0")
    fmt = _format_of(args.out, args.format)
    generate(
        args.out,
        rows=args.rows,
        fmt=fmt,
        bad=args.bad,
        duplicates=args.duplicates,
        seed=args.seed,
    )
    print(f"wrote {args.rows:,} rows to {args.out} ({fmt})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
