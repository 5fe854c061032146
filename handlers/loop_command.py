"""`/loop`: one slash command, many subcommands, each owned by its ritual's module.

Rituals add their subcommands to the `LoopCommand` router in their own `register()`;
this module owns only the routing, `help`, and the error for a word it doesn't know.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.messages import Texts
from bot.messages.catalog import language_for
from bot.runtime import Runtime, rt_of
from bot.slack.people import person_within
from storage.people import person_locale

log = logging.getLogger(__name__)


@dataclass
class CommandCall:
    """One `/loop <name> <args>` invocation, with what a subcommand needs to answer it."""

    rt: Runtime
    ack: AsyncAck
    respond: AsyncRespond
    client: AsyncWebClient
    team_id: str
    user_id: str
    channel_id: str
    name: str
    args: str
    trigger_id: str | None
    t: Texts
    body: dict[str, Any]
    # The router that found this subcommand: `/loop settings <topic>` looks up topics
    # other rituals added to it (settings_topics).
    router: LoopCommand | None = None

    async def reply(self, text: str) -> None:
        """Answer in the ack itself: ephemeral, within Slack's 3 seconds."""
        built = messages.ephemeral(text)
        await self.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


Handler = Callable[[CommandCall], Awaitable[None]]


@dataclass
class Subcommand:
    name: str
    handler: Handler
    help_key: str
    aliases: tuple[str, ...] = ()


@dataclass
class LoopCommand:
    subcommands: dict[str, Subcommand] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)
    _help_cache: dict[tuple[str, int], messages.Built] = field(default_factory=dict)
    # `/loop settings <topic> ...` handled by the ritual that owns the topic (the words
    # after the topic are in `call.args` then).
    settings_topics: dict[str, Handler] = field(default_factory=dict)

    def add(
        self, name: str, handler: Handler, *, help_key: str, aliases: tuple[str, ...] = ()
    ) -> None:
        self.subcommands[name] = Subcommand(name, handler, help_key, aliases)
        for alias in aliases:
            self._aliases[alias] = name

    def find(self, word: str) -> Subcommand | None:
        word = word.lower()
        return self.subcommands.get(self._aliases.get(word, word))

    def names(self) -> list[str]:
        return ["help", *sorted(self.subcommands)]

    def help_for(self, t: Texts) -> messages.Built:
        """The help message, built once per language: the catalog is fixed at start-up
        and `/loop help` is the command people type most."""
        key = (language_for(t.lang), len(self.subcommands))
        built = self._help_cache.get(key)
        if built is None:
            built = self._help_cache[key] = messages.help_message(t, self.help_keys())
        return built

    def help_keys(self) -> list[str]:
        return ["help.line_help", *(self.subcommands[n].help_key for n in sorted(self.subcommands))]

    async def listener(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        command: dict[str, Any],
        client: AsyncWebClient,
        body: dict[str, Any],
        context: AsyncBoltContext,
    ) -> None:
        """The `/loop` listener: a method, because the router is its state (the
        subcommands the rituals added); the runtime comes from Bolt's context."""
        rt = rt_of(context)
        text = (command.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        team_id = str(command.get("team_id") or rt.team_id or "")
        user_id = str(command.get("user_id") or "")
        t = await reader_texts(rt, team_id, user_id)
        if word.lower() in ("", "help", "?", "-h", "--help"):
            built = self.help_for(t)
            await ack(text=built.text, blocks=built.blocks, response_type="ephemeral")
            return
        sub = self.find(word)
        if sub is None:
            listing = ", ".join(f"`{n}`" for n in self.names())
            msg = t("errors.unknown_subcommand", word=word[:40], subcommands=listing)
            built = messages.ephemeral(msg)
            await ack(text=built.text, blocks=built.blocks, response_type="ephemeral")
            return
        call = CommandCall(
            rt=rt,
            ack=ack,
            respond=respond,
            client=client,
            team_id=team_id,
            user_id=user_id,
            channel_id=str(command.get("channel_id") or ""),
            name=sub.name,
            args=rest.strip(),
            trigger_id=command.get("trigger_id"),
            t=t,
            body=body,
            router=self,
        )
        await sub.handler(call)


async def reader_texts(rt: Runtime, team_id: str, user_id: str) -> Texts:
    """The reader's language from their Slack locale.

    Known readers cost nothing (memory, then the database). A reader we have never seen
    is looked up with `users.info` under the ack's time budget (bot.slack.people.person_within):
    if Slack is slow they get English this once, and the lookup finishes after the ack."""
    cached = rt.locales.get(user_id)
    if cached is None:
        cached = await rt.tx(person_locale, write=False, team_id=team_id, slack_id=user_id) or ""
        if cached:
            rt.locales[user_id] = cached
        elif user_id:
            person = await person_within(rt, team_id=team_id, user_id=user_id)
            cached = (person.locale if person else None) or ""
            if person is None:
                # Remembered as unknown: the lookup still running fills it in, and until
                # then this person's commands do not wait on Slack each time.
                rt.locales.setdefault(user_id, "")
                log.info("no locale for %s yet; answering in English", user_id)
    return Texts(rt.catalog, cached or None)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    app.command("/loop")(commands.listener)
