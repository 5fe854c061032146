"""bench/parser.py: how fast is the deal parser, and how slow can one message make it?

Throughput: every message of tests/support/fixtures/deal_corpus.jsonl through parse_deal_message()
and, when it reads nothing, needs_asking(), as the intake calls them, repeated for a few
seconds. Times are the CPU time of this one thread (time.thread_time), so a busy machine
does not inflate them.
Worst case: 4 KB messages built to hurt regular expressions (long runs of capitalised
words, arrows, colons, emoji codes, stage words, mentions, numbers, unclosed links and
quotes), each parsed many times; the slowest median is the figure.

    .venv/bin/python bench/parser.py [--seconds S] [--repeat N]

Targets: >= 2,000 messages/s, <= 5 ms for one 4 KB message. A figure, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.deals import parser as deal_parser  # noqa: E402
from bot.deals.parser import needs_asking, parse_deal_message  # noqa: E402

CORPUS = ROOT / "tests" / "support" / "fixtures" / "deal_corpus.jsonl"
SIZE = 4096


def _fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _lines(template: str) -> str:
    """Distinct lines (repeated lines are read once, so they would not cost anything)."""
    out, i = [], 0
    while sum(len(line) + 1 for line in out) < SIZE:
        out.append(template.format(i=i))
        i += 1
    return "\n".join(out)[:SIZE]


ADVERSARIAL: dict[str, str] = {
    "capitalised words": _fill("Acme Globex Initech Hooli Umbrella "),
    "capitalised, one line each": _fill("Acme Globex Initech\n"),
    "arrows": _fill("Closed Won → Negotiation → "),
    "emoji arrows": _fill("Won :arrow_right: Lost :arrow_right: "),
    "colons": _fill("Stage: Deal: Owner: Account: "),
    "colons, no spaces": ":" * SIZE,
    "stage words": _fill("closed won lost no decision closed-lost "),
    "spanish and french stages": _fill("Cerrada ganada Fermé gagné Etapa: Phase : "),
    "verbs and names": _fill("we won Acme just closed Globex lost Initech "),
    "emoji codes": _fill(":tada::tada:tada:x:"),
    "mentions": _fill("<@U0RITA> "),
    "unclosed links": _fill("<https://example.com|Acme "),
    "numbers": _fill("12,345.67 $1.5k 3M 50 000 € "),
    "dashes and gaps": _fill("closed - - - - - / / / _ _ _ "),
    "quotes": _fill("“Acme «Globex "),
    "one long word": "A" * SIZE,
    "owner labels": _fill("Owner: Owner: rita@ "),
    "hedges": _fill("if maybe not never won "),
    "distinct deal lines": _lines("Closed won: Acme {i} <@U0RITA> $5{i}k → Negotiation"),
    "distinct stage lines": _lines("Stage: Closed Won | Etapa: Cerrada ganada {i} | we won X{i}"),
    "distinct field lines": _lines("*Deal {i}*: Globex | Owner: r{i}@ex.com | Amount: ${i},000"),
    "distinct dashes": _lines("closed - - - {i} - - / / / _ _ _ won lost"),
}


def _events() -> list[dict[str, Any]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["event"] for line in lines if line]


def _both(event: dict[str, Any]) -> None:
    """As the intake does: parse, and ask needs_asking() when nothing was read."""
    if parse_deal_message(event) is None:
        needs_asking(event)


def _first_time(event: dict[str, Any]) -> None:
    deal_parser._LAST = None  # the parser remembers the last message: time a new one
    _both(event)


def throughput(seconds: float) -> tuple[float, int]:
    events = _events()
    for event in events:  # warm up: first calls pay for lazy work
        _both(event)
    count = 0
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        for event in events:
            _both(event)
        count += len(events)
    return count / (time.thread_time() - started), len(events)


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.thread_time()
        fn()
        times.append((time.thread_time() - started) * 1000)
    return statistics.median(times)


def worst_case(repeat: int) -> list[tuple[str, float]]:
    rows = []
    for name, text in ADVERSARIAL.items():
        event = {"type": "message", "user": "U0RITA", "text": text, "ts": "1.0"}
        rows.append((name, _median_ms(lambda e=event: _first_time(e), repeat)))
    return sorted(rows, key=lambda row: -row[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rate, size = throughput(args.seconds)
    print(f"throughput: {rate:,.0f} messages/s over the {size}-message corpus (one core)")
    rows = worst_case(args.repeat)
    print(f"worst case, one {SIZE // 1024} KB message (median of {args.repeat}):")
    for name, ms in rows:
        print(f"  {ms:6.2f} ms  {name}")
    ok = rate >= 2000 and rows[0][1] <= 5.0
    print("PASS" if ok else "FAIL", "(targets: >= 2,000 messages/s, <= 5 ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
