"""The composition root: the one place that knows every ritual. It collects what each
ritual declares (its nudge kinds, planners and quiet checks) into the registry that the
dispatcher and the Bolt app share, and registers each ritual's listeners on the app."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.nudges.registry import Registry
from bot.runtime import Runtime
from bot.slack import bundle_clicks, clicks
from bot.slack.install import oauth_flow
from bot.slack.teams import TeamAuthorize
from handlers import (
    common,
    concern,
    crm_webhook,
    deal_shortcuts,
    deal_step,
    deals,
    errors,
    export,
    followup,
    guard,
    home,
    installs,
    lessons,
    loop_command,
    loss_debrief,
    manager_call,
    prep,
    privacy,
    quiet,
    quotes,
    reflection,
    report,
    screen_out,
    stories,
    team,
    tee_up,
    win_debrief,
)

# Every ritual module, for what it declares as data (NUDGE_KINDS, PLANNERS, QUIET_CHECKS).
RITUALS = (
    deals,
    win_debrief,
    loss_debrief,
    manager_call,
    tee_up,
    screen_out,
    prep,
    reflection,
    team,
    concern,
    privacy,
    quiet,
    home,
    stories,
    lessons,
    followup,
    quotes,
    installs,
)


def build_registry() -> Registry:
    """What `feedback-loop dispatch` needs to send every kind of nudge: no Bolt app."""
    return Registry.collect(RITUALS)


def build_app(rt: Runtime) -> AsyncApp:
    settings = rt.settings
    if not rt.registry.kinds:
        rt.registry = build_registry()
    oauth: dict[str, Any] = {}
    if rt.tokens is not None:
        # OAuth mode: the install flow on our database, and each request authorized
        # with its workspace's own (refreshed) token (bot/slack/teams.py).
        oauth = {"oauth_flow": oauth_flow(rt), "authorize": TeamAuthorize(rt.tokens)}
    app = AsyncApp(
        # Without a name Bolt names the app after its caller's file through
        # inspect.stack(), which reads the source of every frame on the stack: a good
        # part of building the app.
        name="feedback-loop",
        client=rt.client,
        signing_secret=settings.slack_signing_secret or "",
        # Listeners ack at once and hand slow work to rt.spawn(); running them before
        # the response lets us ack with content (help, field errors) without Bolt's
        # polling loop, and errors in the ack path become a 500 that Slack retries.
        process_before_response=True,
        request_verification_enabled=not settings.socket_mode,
        logger=logging.getLogger("slack_bolt"),
        **oauth,
    )
    register_listeners(app, rt)
    return app


def register_listeners(app: AsyncApp, rt: Runtime) -> loop_command.LoopCommand:
    """Order matters for speed: Bolt tries listeners in registration order and builds
    every listener's arguments just to run its matcher. Channel messages (Slack's most
    frequent request) and `/loop` (the one a person waits on) come first, so acking
    them does not pay for thirty button and modal listeners."""
    # A replayed click is dropped first; then the owner check sees every button and modal
    # before any listener does.
    common.register(app, rt)
    clicks.register(app)
    bundle_clicks.register(app)
    guard.register(app, rt)
    commands = loop_command.LoopCommand()
    deals.register(app, rt, commands)
    crm_webhook.register(rt)
    deal_shortcuts.register(app, rt)
    deal_step.register(app, rt)

    stories.register_messages(app)
    errors.register_other_messages(app)
    # The router looks subcommands up per call, so rituals below can still add theirs.
    loop_command.register(app, rt, commands)
    win_debrief.register(app, rt)
    loss_debrief.register(app, rt, commands)
    manager_call.register(app, rt)
    tee_up.register(app, rt, commands)
    screen_out.register(app, rt, commands)
    prep.register(app, rt, commands)
    quotes.register(app, rt, commands)
    reflection.register(app, rt, commands)
    team.register(app, rt, commands)
    concern.register(app, rt, commands)
    privacy.register(app, rt, commands)
    export.register(app, rt, commands)
    report.register(app, rt, commands)
    quiet.register(app, rt, commands)
    home.register(app, rt)
    stories.register(app, rt, commands)
    lessons.register(app, rt, commands)
    followup.register(app, rt, commands)
    installs.register(app, rt)
    errors.register(app, rt)
    errors.register_unknown_actions(app, rt)
    return commands
