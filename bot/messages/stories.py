"""The stories channel: the week's prompt, a story as the bot posts it in the thread,
the story modal, the offer to link a typed story to a deal, the win invitation, the
monthly post and the `/loop settings stories` answers. Pure builders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal, format_amount
from bot.messages.blocks import (
    Block,
    actions,
    button,
    clip,
    context,
    divider,
    header,
    input_block,
    option,
    section,
    text_field,
)
from bot.messages.focus import escape
from bot.slack import ids

LESSON_MAX = 300
STORY_MAX = 1500
# Slack's static_select holds at most 100 options.
DEAL_OPTIONS_MAX = 100
MONTH_LINKS_MAX = 30
HOME_STORIES_MAX = 5


@dataclass(frozen=True)
class StoryView:
    """A story as it is shown: who, the lesson, what they did, what happened, and the
    deal it helped (already formatted) with the share credited to the lesson."""

    id: int
    rep: str
    lesson: str
    did: str
    happened: str
    account: str | None = None
    amount: str = ""
    share: int | None = None
    credit: str = ""  # "Learned from @rita's debrief of Globex" (a teammate's lesson)


def weekly_prompt(t: Texts) -> Built:
    blocks = [
        section(t("story.weekly_prompt")),
        actions(
            ids.STORY_BLOCK,
            button(t("stories.button_share"), ids.STORY_SHARE, "week", style="primary"),
        ),
    ]
    return as_built(t("story.fallback"), blocks)


def _deal_line(t: Texts, story: StoryView) -> str:
    if not story.account:
        return ""
    if story.share is None:
        return t("stories.deal_line_no_share", account=story.account, amount=story.amount)
    return t(
        "stories.deal_line", account=story.account, amount=story.amount, share=story.share
    ).replace("()", "")


def story_post(t: Texts, story: StoryView) -> Built:
    """The story in the week's thread, by the bot, the rep credited by mention."""
    blocks: list[Block] = [
        section(t("stories.post_lesson", rep=f"<@{story.rep}>", lesson=story.lesson)),
        section(t("stories.post_body", did=story.did, happened=story.happened)),
    ]
    deal = _deal_line(t, story)
    if deal:
        blocks.append(context(deal))
    if story.credit:
        blocks.append(context(story.credit))
    value = str(story.id)
    blocks.append(
        actions(
            ids.STORY_OWN_BLOCK,
            button(t("stories.button_edit"), ids.STORY_EDIT, value),
            _delete_button(t, value),
        )
    )
    fallback = t("stories.post_fallback", rep=f"<@{story.rep}>", lesson=story.lesson)
    return as_built(fallback, blocks)


def _delete_button(t: Texts, value: str) -> Block:
    btn = button(t("stories.button_delete"), ids.STORY_DELETE, value, style="danger")
    btn["confirm"] = {
        "title": {"type": "plain_text", "text": clip(t("stories.delete_title"), 100)},
        "text": {"type": "plain_text", "text": clip(t("stories.delete_text"), 300)},
        "confirm": {"type": "plain_text", "text": clip(t("stories.delete_confirm"), 30)},
        "deny": {"type": "plain_text", "text": clip(t("stories.delete_deny"), 30)},
        "style": "danger",
    }
    return btn


@dataclass(frozen=True)
class DealOption:
    id: int
    account: str
    outcome: str
    amount: str = ""


@dataclass(frozen=True)
class ModalInitial:
    lesson: str = ""
    did: str = ""
    happened: str = ""
    deal_id: int | None = None
    share: int | None = None
    lesson_id: int | None = None


@dataclass(frozen=True)
class LessonOption:
    """A kept lesson the rep may pick: theirs, or a teammate's shared one (`owner_name`)."""

    id: int
    text: str
    mine: bool
    owner_name: str = ""


def _lesson_select(t: Texts, lessons: Sequence[LessonOption], chosen: int | None) -> Block:
    """ "Or pick one of the lessons": theirs first, then the team's shared ones, each
    group only when it has any (Slack refuses an empty option group)."""
    groups: list[dict[str, Any]] = []
    for mine, label in ((True, "lessons.group_mine"), (False, "lessons.group_team")):
        options = [
            option(
                clip(lesson.text, 75)
                if lesson.mine or not lesson.owner_name
                else t(
                    "lessons.story_option_team",
                    lesson=clip(lesson.text, 50),
                    owner=clip(lesson.owner_name, 20),
                ),
                str(lesson.id),
            )
            for lesson in lessons
            if lesson.mine == mine
        ]
        if options:
            groups.append({"label": plain_label(t(label)), "options": options[:DEAL_OPTIONS_MAX]})
    element: Block = {
        "type": "static_select",
        "action_id": "v",
        "placeholder": {
            "type": "plain_text",
            "text": clip(t("lessons.placeholder_story_pick"), 150),
        },
        "option_groups": groups,
    }
    initial = next((o for g in groups for o in g["options"] if o["value"] == str(chosen)), None)
    if initial is not None:
        element["initial_option"] = initial
    return input_block(ids.STORY_LESSON_PICK, t("lessons.label_story_pick"), element, optional=True)


def plain_label(text: str) -> dict[str, Any]:
    # An option group's label: plain text, at most 75 characters.
    return {"type": "plain_text", "text": clip(text, 75)}


def _deal_select(
    t: Texts, deals: Sequence[DealOption], chosen: int | None, *, optional: bool = True
) -> Block:
    options = [
        option(
            t("stories.deal_option", account=d.account, outcome=t(f"deal.outcome_{d.outcome}"))
            + (f" · {d.amount}" if d.amount else ""),
            str(d.id),
        )
        for d in deals[:DEAL_OPTIONS_MAX]
    ]
    element: Block = {
        "type": "static_select",
        "action_id": "v",
        "placeholder": {"type": "plain_text", "text": clip(t("stories.deal_placeholder"), 150)},
        "options": options,
    }
    initial = next((o for o in options if o["value"] == str(chosen)), None)
    if initial is not None:
        element["initial_option"] = initial
    return input_block(ids.STORY_DEAL, t("stories.label_deal"), element, optional=optional)


def _share_field(t: Texts, share: int | None) -> Block:
    element: Block = {
        "type": "number_input",
        "action_id": "v",
        "is_decimal_allowed": False,
        "min_value": "0",
        "max_value": "100",
    }
    if share is not None:
        element["initial_value"] = str(share)
    return input_block(
        ids.STORY_SHARE_FIELD,
        t("stories.label_share"),
        element,
        optional=True,
        hint=t("stories.hint_share"),
    )


def story_modal(
    t: Texts,
    *,
    channel_name: str,
    deals: Sequence[DealOption],
    metadata: Mapping[str, Any],
    initial: ModalInitial | None = None,
    lessons: Sequence[LessonOption] = (),
) -> dict[str, Any]:
    """One short modal: the lesson (typed, or picked from the rep's kept lessons and the
    team's shared ones), what they did and what happened, then the optional deal and
    share."""
    initial = initial or ModalInitial()
    blocks: list[Block] = [
        text_field(
            ids.STORY_LESSON,
            t("stories.label_lesson"),
            action_id="v",
            max_length=LESSON_MAX,
            initial=initial.lesson,
            placeholder=t("stories.placeholder_lesson"),
            # With lessons to pick from, picking one is enough.
            optional=True if lessons else None,
        ),
        *([_lesson_select(t, lessons, initial.lesson_id)] if lessons else []),
        text_field(
            ids.STORY_DID,
            t("stories.label_did"),
            action_id="v",
            max_length=STORY_MAX,
            multiline=True,
            initial=initial.did,
            placeholder=t("story.placeholder_story"),
        ),
        text_field(
            ids.STORY_HAPPENED,
            t("stories.label_happened"),
            action_id="v",
            max_length=STORY_MAX,
            multiline=True,
            initial=initial.happened,
        ),
    ]
    if deals:
        blocks.append(_deal_select(t, deals, initial.deal_id))
        blocks.append(_share_field(t, initial.share))
    return form_modal(
        t,
        prefix="story",
        callback_id=ids.STORY_MODAL,
        metadata=metadata,
        blocks=blocks,
        audience=t("stories.audience", channel=channel_name),
    )


def link_modal(
    t: Texts,
    *,
    deals: Sequence[DealOption],
    metadata: Mapping[str, Any],
    initial: ModalInitial | None = None,
) -> dict[str, Any]:
    """For a story typed in the thread: which deal it helped, and how much."""
    initial = initial or ModalInitial()
    blocks: list[Block] = []
    if deals:
        blocks.append(_deal_select(t, deals, initial.deal_id, optional=False))
        blocks.append(_share_field(t, initial.share))
    else:
        blocks.append(section(t("stories.no_deals")))
    view = form_modal(
        t,
        prefix="stories.link",
        callback_id=ids.STORY_LINK_MODAL,
        metadata=metadata,
        blocks=blocks,
        audience=t("stories.link_audience"),
    )
    if not deals:
        view.pop("submit", None)
    return view


def link_offer(t: Texts, story_id: int) -> Built:
    """The ephemeral under a story typed in the thread."""
    text = t("stories.typed_offer")
    blocks = [
        section(text),
        actions(
            ids.STORY_LINK_BLOCK,
            button(t("stories.button_link"), ids.STORY_LINK, str(story_id), style="primary"),
            button(t("stories.button_not_story"), ids.STORY_NOT_STORY, str(story_id)),
        ),
    ]
    return as_built(text, blocks)


def invitation(t: Texts, *, deal_id: int, account: str) -> Built:
    """The DM to a rep who won a deal and has told no story of it."""
    text = t("stories.invite", account=account)
    blocks = [
        section(text),
        actions(
            ids.STORY_INVITE_BLOCK,
            button(
                t("stories.button_share"), ids.STORY_INVITE_SHARE, str(deal_id), style="primary"
            ),
        ),
    ]
    return as_built(text, blocks)


# --- the monthly post --------------------------------------------------------------------


@dataclass(frozen=True)
class MonthEntry:
    rep: str
    lesson: str
    link: str | None
    account: str | None
    share: int | None
    amount: Decimal | None
    currency: str | None
    deal_id: int | None = None
    origin: str | None = None  # the teammate whose kept lesson the story applied


@dataclass
class MonthSummary:
    stories: int = 0
    deals: int = 0
    # currency ("" when unknown) -> amount × share, summed
    attributed: dict[str, Decimal] = field(default_factory=dict)
    # lesson -> (times applied, who it came from, first spelling)
    lessons: list[tuple[str, int, list[str]]] = field(default_factory=list)
    # lesson (its first spelling) -> the teammates it was learned from
    origins: dict[str, list[str]] = field(default_factory=dict)


def _lesson_key(lesson: str) -> str:
    return " ".join(lesson.lower().split()).strip(".!?… ")


def _attributed(entries: Sequence[MonthEntry]) -> dict[str, Decimal]:
    """Each linked deal's amount × the shares its stories credit, per currency (never
    added across currencies). Two stories crediting one deal add up, but never past the
    whole deal: credit is a part of a real sale, not a second sale."""
    shares: dict[object, int] = defaultdict(int)
    deal_of: dict[object, MonthEntry] = {}
    for e in entries:
        if e.account is None or e.amount is None or e.share is None:
            continue
        key: object = e.deal_id if e.deal_id is not None else (e.account, e.amount, e.currency)
        shares[key] += e.share
        deal_of[key] = e
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for deal, share in shares.items():
        entry = deal_of[deal]
        assert entry.amount is not None
        totals[entry.currency or ""] += entry.amount * Decimal(min(share, 100)) / Decimal(100)
    return dict(sorted(totals.items()))


def summarise(entries: Sequence[MonthEntry]) -> MonthSummary:
    """Pure arithmetic of the monthly post: the stories, the distinct deals linked, the
    revenue attributed (`_attributed`) and the lessons most applied, with who applied them."""
    summary = MonthSummary(stories=len(entries))
    deals: set[object] = set()
    by_lesson: dict[str, tuple[str, int, list[str]]] = {}
    for e in entries:
        if e.account is not None:
            deals.add(e.deal_id if e.deal_id is not None else e.account)
        key = _lesson_key(e.lesson)
        if not key:
            continue
        shown, count, reps = by_lesson.get(key, (e.lesson, 0, []))
        if e.rep not in reps:
            reps = [*reps, e.rep]
        by_lesson[key] = (shown, count + 1, reps)
        if e.origin and e.origin not in summary.origins.setdefault(shown, []):
            summary.origins[shown].append(e.origin)
    summary.deals = len(deals)
    summary.attributed = _attributed(entries)
    summary.lessons = sorted(by_lesson.values(), key=lambda x: (-x[1], x[0].lower()))
    return summary


def revenue_text(attributed: Mapping[str, Decimal], locale: str | None = None) -> str:
    """`summarise`'s attributed revenue, one amount per currency ("$21,250, €5,000")."""
    return ", ".join(
        format_amount(amount.quantize(Decimal("0.01")), currency or None, locale)
        for currency, amount in attributed.items()
    )


def story_link(lesson: str, link: str | None, limit: int = 120) -> str:
    """A story's lesson as mrkdwn, linked to the story in its thread when the link is
    known. The rep's words stay text: `<`, `>` and `&` are escaped."""
    # One line: a story typed in the thread may run over several.
    shown = escape(clip(" ".join(lesson.split()), limit)) or "…"
    return f"<{link}|{shown}>" if link else shown


def story_deal_text(t: Texts, account: str | None, share: int | None) -> str:
    """ " · Globex, 40% credited" (or " · Globex"; "" without a deal)."""
    if account is None:
        return ""
    deal = escape(clip(account, 60))
    if share is None:
        return t("report.story_deal", account=deal)
    return t("report.story_deal_share", account=deal, share=share)


def home_stories(t: Texts, stories: Sequence[MonthEntry], *, can_share: bool) -> list[Block]:
    """The rep's own App Home: their latest stories, as links to the thread, each with the
    deal it helped. A section of its own, so other sections (lessons) can sit beside it.
    Nothing when they have none and there is no stories channel to share one in."""
    if not stories and not can_share:
        return []
    if not stories:
        return [header(t("home.stories_header")), section(t("home.stories_empty"))]
    # Their own Home: no need to name them on each line.
    lines = [
        f"• {story_link(s.lesson, s.link)}{story_deal_text(t, s.account, s.share)}"
        for s in stories[:HOME_STORIES_MAX]
    ]
    return [header(t("home.stories_header")), section("\n".join(lines))]


def month_name(t: Texts, month: str) -> str:
    """ "2026-11" as "November 2026" in the reader's language."""
    year, _, number = month.partition("-")
    names = t("stories.months").split(",")
    index = int(number) - 1 if number.isdigit() else -1
    return f"{names[index].strip()} {year}" if 0 <= index < len(names) else month


def month_post(t: Texts, *, month: str, entries: Sequence[MonthEntry]) -> Built:
    s = summarise(entries)
    month = month_name(t, month)
    blocks: list[Block] = [header(t("stories.month_header", month=month))]
    if not entries:
        blocks.append(section(t("stories.month_empty")))
        return as_built(t("stories.month_header", month=month), blocks)
    money = revenue_text(s.attributed)
    blocks.append(
        section(t("stories.month_totals", stories=s.stories, deals=s.deals, revenue=money or "—"))
    )
    lines = []
    for e in entries[:MONTH_LINKS_MAX]:
        title = clip(e.lesson, 80)
        shown = f"<{e.link}|{title}>" if e.link else title
        lines.append(f"• {shown} — <@{e.rep}>")
    if len(entries) > MONTH_LINKS_MAX:
        lines.append(t("stories.month_more", count=len(entries) - MONTH_LINKS_MAX))
    blocks.append(section(t("stories.month_stories") + "\n" + "\n".join(lines)))
    top = [
        t(
            "stories.month_lesson",
            lesson=clip(shown, 120),
            count=n,
            reps=", ".join(f"<@{r}>" for r in reps),
        )
        + (
            " · " + t("lessons.month_from", owners=", ".join(f"<@{o}>" for o in origins))
            if (origins := s.origins.get(shown))
            else ""
        )
        for shown, n, reps in s.lessons[:5]
    ]
    if top:
        blocks.append(divider())
        blocks.append(section(t("stories.month_lessons") + "\n" + "\n".join(top)))
    blocks.append(context(t("stories.month_footer")))
    return as_built(t("stories.month_header", month=month), blocks)


# --- the answers to commands and clicks ----------------------------------------------------


def settings_lines(t: Texts, *, channel: str | None, language: str, tz: str, from_env: bool) -> str:
    where = f"<#{channel}>" if channel and not channel.startswith("#") else (channel or "")
    head = t("stories.settings_channel", channel=where) if channel else t("stories.settings_none")
    lines = [
        head,
        t("stories.settings_language", language=language),
        t("stories.settings_tz", tz=tz),
    ]
    if channel and from_env:
        lines.append(t("stories.settings_from_env"))
    lines.append(t("stories.settings_usage"))
    return "\n".join(lines)


def deleted_note(t: Texts) -> str:
    return t("stories.deleted")
