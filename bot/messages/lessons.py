"""Lessons: "Keep a lesson" under a logged debrief, a manager's call or a logged win, its
modal, "Did you get to try …?" a week later, the credit a teammate gets when a story
applies their lesson, the rep's lessons in App Home and teammates' lessons in prep.
Pure builders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages.blocks import (
    Block,
    button,
    clip,
    context,
    input_block,
    option,
    section,
    text_field,
)
from bot.messages.focus import escape
from bot.messages.followup import ask_rows
from bot.slack import ids

TEXT_MAX = 300
HOME_SHOWN = 5
OPTION_MAX = 75  # a static_select option's text

# Each button of the ask, the answer it records and its label's key.
TRY_BUTTONS = (
    (ids.LESSON_TRY_YES, "yes", "lessons.button_yes"),
    (ids.LESSON_TRY_NOT_YET, "not_yet", "lessons.button_not_yet"),
    (ids.LESSON_TRY_DROP, "drop", "lessons.button_drop"),
)
TRY_ANSWER_OF = {action_id: answer for action_id, answer, _key in TRY_BUTTONS}


def keep_button(t: Texts, deal_id: int) -> Block:
    return button(t("lessons.button_keep"), ids.LESSON_KEEP, str(deal_id))


def keep_modal(
    t: Texts, *, deal_id: int, account: str, items: Sequence[str], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """Pick one of the debrief's takeaways (or say it in your own words), and choose who
    sees it: you alone, or the team."""
    blocks: list[Block] = [section(t("lessons.keep_intro", account=escape(account)))]
    if items:
        element: Block = {
            "type": "static_select",
            "action_id": "v",
            "options": [option(clip(item, OPTION_MAX), str(n)) for n, item in enumerate(items)],
        }
        element["initial_option"] = element["options"][0]
        blocks.append(
            input_block(ids.LESSON_PICK_FIELD, t("lessons.label_pick"), element, optional=True)
        )
    blocks.append(
        text_field(
            ids.LESSON_TEXT_FIELD,
            t("lessons.label_text"),
            action_id="v",
            max_length=TEXT_MAX,
            optional=bool(items),
            hint=t("lessons.hint_text") if items else None,
        )
    )
    private = option(t("lessons.share_private"), "private")
    team = option(t("lessons.share_team"), "team")
    blocks.append(
        input_block(
            ids.LESSON_SHARE_FIELD,
            t("lessons.label_share"),
            {
                "type": "radio_buttons",
                "action_id": "v",
                "options": [private, team],
                "initial_option": private,
            },
        )
    )
    return form_modal(
        t,
        prefix="lessons",
        callback_id=ids.LESSON_KEEP_MODAL,
        metadata={**metadata, "deal": deal_id},
        blocks=blocks,
        audience=t("lessons.audience"),
    )


def kept_reply(t: Texts, *, text: str, shared: bool, new: bool, days: int) -> str:
    key = "lessons.kept_team" if shared else "lessons.kept_private"
    reply = t(key, lesson=escape(text))
    return reply + (" " + t("lessons.kept_ask", days=days) if new else "")


def try_reply_key(answer: str, *, last: bool) -> str:
    if answer == "not_yet":
        return "lessons.reply_not_yet_last" if last else "lessons.reply_not_yet"
    return f"lessons.reply_{answer}"


def try_dm(
    t: Texts,
    *,
    nudge_id: int,
    lesson: str,
    account: str,
    answer: str | None = None,
    last: bool = False,
    days: int = 7,
) -> Built:
    """ "Did you get to try …?"; once answered, the choice and the reply replace the
    buttons. `last`: the ask after "Not yet", and the last one."""
    key = "lessons.try_again" if last else "lessons.try"
    where = t("lessons.from_account", account=escape(account)) if account else ""
    text = t(key, lesson=escape(clip(lesson, 500)), where=where).replace("  ", " ")
    reply = t(try_reply_key(answer, last=last), days=days) if answer else ""
    rows = ask_rows(t, ids.LESSON_TRY_BLOCK, TRY_BUTTONS, nudge_id, answer, reply)
    return as_built(t("lessons.try_fallback", lesson=clip(lesson, 150)), [section(text), *rows])


def source_word(t: Texts, source: str) -> str:
    return t(f"lessons.source_{source if source in ('debrief', 'call', 'win') else 'debrief'}")


def credit_line(t: Texts, *, owner: str, source: str, account: str) -> str:
    """Under a story: "Learned from @rita's debrief of Globex"."""
    if account:
        return t(
            "lessons.credit_line",
            owner=f"<@{owner}>",
            source=source_word(t, source),
            account=escape(account),
        )
    return t("lessons.credit_line_no_account", owner=f"<@{owner}>", source=source_word(t, source))


def credit_dm(
    t: Texts, *, author: str, lesson: str, account: str, source: str, link: str | None
) -> Built:
    """To the lesson's owner: a teammate applied it and told the team."""
    text = t(
        "lessons.credit_dm",
        author=f"<@{author}>",
        lesson=escape(clip(lesson, 500)),
        source=source_word(t, source),
        account=escape(account) if account else "—",
    )
    blocks: list[Block] = [section(text)]
    if link:
        blocks.append(context(t("lessons.credit_link", link=link)))
    return as_built(t("lessons.credit_fallback", author=f"<@{author}>"), blocks)


@dataclass(frozen=True)
class LessonLine:
    text: str
    shared: bool
    tried: bool
    account: str = ""
    owner: str = ""  # someone else's (prep): who kept it


def home_blocks(t: Texts, lessons: Sequence[LessonLine]) -> list[Block]:
    """App Home's "Your lessons": the rep's own, private or shared, tried or not yet."""
    if not lessons:
        return [section(t("lessons.home_header") + "\n" + t("lessons.home_empty"))]
    lines = []
    for lesson in lessons[:HOME_SHOWN]:
        marks = [t("lessons.mark_team" if lesson.shared else "lessons.mark_private")]
        if lesson.tried:
            marks.append(t("lessons.mark_tried"))
        where = f" · {escape(lesson.account)}" if lesson.account else ""
        lines.append(f"• {escape(clip(lesson.text, 200))}{where} _({', '.join(marks)})_")
    more = len(lessons) - HOME_SHOWN
    if more > 0:
        lines.append(t("lessons.home_more", n=more))
    return [section(t("lessons.home_header") + "\n" + "\n".join(lines))]


def prep_section(t: Texts, lessons: Sequence[LessonLine]) -> str:
    """In `/loop prep`: teammates' shared lessons from a similar situation."""
    lines = [
        t(
            "lessons.prep_line",
            lesson=escape(clip(lesson.text, 300)),
            owner=f"<@{lesson.owner}>",
            account=escape(lesson.account) if lesson.account else "—",
        )
        for lesson in lessons
    ]
    return t("lessons.prep_header") + "\n" + "\n".join(lines)
