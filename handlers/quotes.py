"""`/loop quotes [word]`: the quotes clients allowed us to reuse, from every rep's won
deals, searchable by a word of the quote, the account or the tag. Ephemeral, answered in
the ack, a page at a time ("Show more" replaces the page in place)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.clock import zone_of
from bot.messages import Built
from bot.messages import quotes as msg
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from handlers.debrief_replies import team_of
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import quotes as store
from storage.people import person_tz


def _date(when: datetime | None, tz: str | None) -> str:
    return when.astimezone(zone_of(tz)).date().isoformat() if when else ""


def quote_lines(found: Sequence[store.Quote], tz: str | None) -> list[msg.QuoteLine]:
    """Storage rows as the plain values the builders take, dated in the reader's zone."""
    return [msg.QuoteLine(q.account, q.rep, _date(q.won_at, tz), q.tag, q.text) for q in found]


async def answer(rt: Runtime, team_id: str, user_id: str, word: str, page: int) -> Built:
    t = await reader_texts(rt, team_id, user_id)
    found = await rt.tx(store.search_quotes, write=False, team_id=team_id, word=word)
    if not found:
        # Only tags that find something: a disallowed quote's tag would lead nowhere.
        allowed = await rt.tx(store.allowed_quotes, write=False, team_id=team_id)
        tags = list(dict.fromkeys(q.tag for q in allowed if q.tag))
        return msg.no_quotes(t, word=word, tags=tags)
    tz = await rt.tx(person_tz, write=False, team_id=team_id, slack_id=user_id)
    return msg.quotes_page(t, quote_lines(found, tz), word=word, page=page)


async def quotes_command(call: CommandCall) -> None:
    word = " ".join(call.args.split())[: msg.WORD_MAX]
    built = await answer(call.rt, call.team_id, call.user_id, word, 0)
    await call.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


async def on_more(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    word, page = msg.read_more_value(value)
    user_id = str((body.get("user") or {}).get("id") or "")

    async def run() -> None:
        built = await answer(rt, team_of(body, rt), user_id, word, page)
        await respond(
            text=built.text, blocks=built.blocks, response_type="ephemeral", replace_original=True
        )

    rt.spawn(run(), name="quotes-more")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("quotes", quotes_command, help_key="quotes.help_line")
    app.action(ids.QUOTES_MORE)(on_more)
