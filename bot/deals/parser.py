"""Reading deal outcomes out of messages in a deals channel.

A message typed by a seller or posted by a CRM app (Salesforce, HubSpot: `text`,
`attachments` and `blocks`) becomes a `DealSignal`: the outcome, the account, the amount
and who the rep is. The module is pure: it never calls Slack. A false DM is worse than a
missed one, so every rule below is deliberately narrow and the non-triggers are tests.

The grammar is code; its words are data. Stage names, field and owner labels, verbs,
loss reasons and hedges live in ``bot/deals/words/{en,es,fr}.toml`` (format: see
``bot/deals/vocabulary.py``), compiled into regexes at import; a team's own words are one more
file in the folder named by the ``DEAL_WORDS_DIR`` setting (``use_deal_words()``). The
English rules below keep their structure in code; the rules marked WORDS take every
phrase from every language's file. ``tests/support/fixtures/deal_corpus.jsonl`` holds labelled
real-shaped posts (CRM apps and reps, English, Spanish, French) the tests score.

Grammar
=======

Input
-----
`message_text()` flattens an event into lines, in this order, dropping blank and
repeated lines (CRM apps often say the same thing in `text`, `blocks` and `attachments`)::

    text
    attachments[*]: pretext, title, text, fields as "Title: value", blocks;
                    fallback only when the attachment has none of these
    blocks[*]:      section text and fields (a field "*Label*\nvalue" reads "Label: value"),
                    header, markdown, context elements (one line),
                    rich_text sections/preformatted/list items, with user mentions
                    as <@U…>, links as <url|label>, emoji as :name:

Never read, because they quote someone else (often an old deal post): `text` lines that
start with `>`, `rich_text_quote` elements, and shared or unfurled Slack messages
(attachments with `is_msg_unfurl`, `is_share`, `is_reply_unfurl` or `message_blocks`).
A thread reply (`thread_ts` set and not its own `ts`) or a `thread_broadcast` is never a
deal, and neither is a message with a "?" or "¿" anywhere: a question states nothing.

Each line is then normalised before matching: `<url|label>` -> label, `<url>` and bare
URLs -> dropped, `<mailto:a@b|…>` -> a@b, `<@U…>` -> "@rep", `&amp; &lt; &gt;` unescaped,
arrow emoji (`:arrow_right:`, ➡️, …) -> "→", other `:emoji:` codes -> " · " (a
separator, as punctuation is), mrkdwn markers `* ~ `` and `_` at word edges removed. Matching
is case-insensitive and never crosses a line.

Vocabulary (EBNF-ish; GAP may be empty, so "closedwon" and "closed - won" are both CLOSED)::

    GAP          = { " " | "-" | "/" | "_" | ":" | "–" | "—" } ;
    ND           = "no" { " " | "-" | "_" } "decision" ;       (* no decision, no-decision *)
    CLOSED       = "closed" GAP ( "won" | "lost" | ND | "lost" GAP ND ) ;
    STAGE-VALUE  = [ "closed" GAP ] ( "won" | "lost" | ND | "lost" GAP ND )
                 | "proposal" GAP ( "sent" | "submitted" | "made" )     (* proposal_sent *)
                 | "proposal" [ GAP "price quote" ] ;                   (* proposal_due *)
    STAGE-LABEL  = [ "deal" | "opportunity" | "opp" | "sales" | "pipeline" ] "stage"
                 | "dealstage" | [ "deal" | "opportunity" ] "status" | "outcome" | "result" ;
    MOVE-VERB    = "moved" | "changed" | "updated" | "set" | "advanced" | "progressed"
                 | "switched" | "marked" | "pushed" | "converted" | "closed" ;
    END          = end of line | punctuation or emoji
                 | "for" | "on" | "at" | "by" | "with" | "from" | "today" | "yesterday" ;
    CLAUSE-END   = end of line | punctuation or emoji | "to" | "with" | "for" | "at" | "by"
                 | "from" | "over" | "against" | "today" | "yesterday" ;
    NAME         = capitalised words joined by spaces, "&", "+", "of", "de", "van", "von",
                   "-" or "–", at most 8; a digit-led word counts when it is not an
                   amount ("7-Eleven", "1Password"; "3M" reads as 3 million).

"lost GAP ND" ("Closed Lost - No Decision") reads as no_decision. "won"/"won't" never
meet: every keyword must end at a word boundary that is not an apostrophe.

Outcome rules, strongest first
------------------------------
Strength 3, CRM stage statements:

====================================================  ===================================
rule                                                  examples
====================================================  ===================================
STAGE-LABEL [":" | "=" | "is" ["now"]] STAGE-VALUE END  Stage: Closed Won; Deal stage:
                                                      closedwon; Dealstage: closedlost;
                                                      Status: Lost; Stage: Proposal Sent
MOVE-VERB {word}0..4 ("to"|"into"|"as") STAGE-VALUE    moved to Closed Lost; Stage changed
END                                                   from Negotiation to Closed Won;
                                                      marked as won
"marked" STAGE-VALUE END; ("→"|"->"|"=>") STAGE-VALUE  marked lost; Negotiation → Closed Won
[["closed"] "loss"|"lost"] "reason" ":" (ND |          Loss reason: No decision
"status quo" | "did nothing")  -> no_decision
====================================================  ===================================

Strength 2: CLOSED anywhere in a line ("Closed Won: Acme", "acme closed-won",
"closed/won", "closed - no decision"), unless a report word follows (deals, opps, rate,
ratio, revenue, pipeline, report, numbers, metrics, count, total, analysis, review,
reasons, stats, dashboard, forecast, trend, "%", "vs", "to date", "this/last quarter",
ytd, "and/or closed ...") or a number or "vs"/"and"/"or" precedes it ("12 closed won",
"Closed won vs closed lost").

Strength 1, people's phrasings (SUBJ = "we" | "i" | "you" | "team" | "@rep", optionally
with "'ve"/"have" and "just"/"finally"/"officially"/...; DEAL-NOUN = deal, opportunity,
opp, contract, bid, rfp, tender, renewal, business, account, logo, order)::

    won
      ("deal"|"opportunity"|"contract"|...) [is|was|has been|just|...] "won" CLAUSE-END
                                          Deal won; the deal was won!
      "won" ("the"|"this"|"a"|"our"|Name's) {word}0..3 DEAL-NOUN NOUN-END
                                          won the deal; we won the Acme renewal
        (NOUN-END = CLAUSE-END | in | on | and | but | because | due | after | this |
        last | again | back, so "won a business award" does not count)
      SUBJ "won" (END | "this one" | "them" | NAME [END | DEAL-NOUN | "over" | ...])
                                          we won Acme; We won!; <@U1> won Acme Corp
      NAME [has|just|finally] "signed" (END | "with us" | CONTRACT)
                                          :tada: Acme signed!; Acme Corp just signed
      "signed" [the|a|our|Name's] {word}0..2 CONTRACT; "signed on the dotted line"
                                          They signed the contract (never an NDA, LOI,
                                          MoU, pilot, trial or PoC)
      CONTRACT [is|was|has been|got|...] "signed"      Contract signed with Acme
      (SUBJ | "just" | "finally") "signed" NAME          We signed Acme!
      line start: ["just"] "signed" (":" | "!" | "-" | end) Signed! Acme – Renewal
    lost
      ("deal"|...) [...] "lost" CLAUSE-END             Deal lost; Deal lost to Globex
      "lost" ("the"|"this"|"a"|...) {word}0..3 DEAL-NOUN NOUN-END  lost the deal to Globex
      SUBJ "lost" (END | "this one" | "them" | NAME ...) we lost; We lost Acme :(
      "lost" NAME "to" (NAME | "a competitor")           lost Acme to Globex
      "lost" ["out"] "to" ["a"|"the"|"another"] [word] (competitor|competition|rival|
        incumbent|other/another/different vendor|provider|solution|option)
      (SUBJ | line start | after ":" "—" "-") "lost to" NAME  Acme – lost to Globex
      ("went with"|"gone with"|"chose"|"picked"|"selected"|"signed with"|"switched to"|
        "moved to"|"stayed with"|"stuck with") [a|the|another] [word] (competitor|
        competition|rival|someone else|incumbent|another/different/other vendor|provider|
        solution|supplier|option|tool)
                                          went with a competitor; chose another vendor
    no_decision
      "no-decision" | "no_decision" | "nodecision"        anywhere (report words excepted)
      "no decision" after line start, a delimiter, or "closed"/"marked as"/"as"/"went"/
        "ended in|with|as"/"resulted in"/"outcome"/"verdict", and followed by the end of
        the line or punctuation, optionally after "made", or by
        ["made"] ("on"|"for"|"from"|"by"|"with") NAME and then the end or punctuation
                                          No decision; Acme: No Decision; No decision made.;
                                          No decision from Acme.
      ("decided"|"chose"|"opted") "to do nothing"; ("decided"|"chose"|"opted") "not to"
        ("buy"|"purchase"|"move forward"|"proceed"|"go ahead"); (stayed|stuck|went|remained)
        "with" ["the"] "status quo"; "chose the status quo"; "lost to" ("the status quo"|
        ND|"inertia"|"do-nothing")
    proposal_sent
      "proposal" [is|was|has been|just|...] ("sent"|"submitted"|"delivered"|"went out"|"out")
                                          Proposal sent to Acme
      ("sent"|"submitted"|"delivered"|"emailed") ["over"] [the|a|our|Name's] {word}0..3
        "proposal"                        sent the proposal to Globex
        (not a proposal "template", "draft", "outline", or one sent "for review" or to
        legal/finance/the team/a colleague)
    proposal_due (moving INTO the proposal stage, or the proposal about to go out: the
    moment to tee up the debrief; a time ahead — "tomorrow", "next week" — does not void it)
      STAGE-VALUE "proposal" ["/price quote"] in a field, a move or after an arrow
                                          Stage: Proposal/Price Quote; → Proposal
      ("about"|"ready"|"getting ready"|"going"|"set") "to" ("send"|"submit") [...] "proposal";
      ("sending"|"drafting"|"drafted"|"writing"|"preparing"|"finalising"|"putting together")
        ["over"|"out"] [the|a|our|Name's] {word}0..3 "proposal"
                                          About to send the proposal to Acme
      "proposal" [is|now|just] ("drafted"|"ready"|"done"|"written"|"going out"|"almost ready")
                                          Proposal drafted for Acme
      ("moving"|"advancing"|"taking") {word}0..4 ("to"|"into") ["the"] "proposal" ["stage"]
                                          Moving Acme to proposal

WORDS rules (any language; phrases from the word files)::

    stage field     LABEL ":" STAGE-VALUE            Etapa: Cerrada ganada; Phase de la
                    (at a line start or after | • ;)   transaction : Fermé gagné; To: Won
    move            MOVE {word}0..4 MOVE-TO STAGE     pasó a Cerrada perdida; est passée à
                                                      Fermée perdue; changé en *Perdu*
    arrow           ARROW STAGE                       Negociación → Ganado
    closed          CLOSED-STAGE anywhere             Cerrado ganado: Aceitunas Jaén
                    (report words and counts excepted, as for CLOSED)
    verb            VERB [the deal|el negocio|…] [with|con|avec…] NAME END
                                                      ¡Ganamos Grupo Alvarado!; just closed
                                                      Tidewater Ventures for $2.5M; On a
                                                      signé avec Maison Carrel
    lost lead       line start LOST-LEAD NAME END     Lost Paper Street Soap.
    lost after      line start NAME DELIM LOST-AFTER  Nakatomi Trading — lost on price
    loss reason     REASON                            Went with a cheaper tool.
    no decision     ND-LEAD NAME END                  No decision on Umbrella Corp;
                                                      Pas de décision chez Vasseur,
    statement       STATEMENT (then the end, punctuation, a name or a linking word)
                                                      Deal won: Tyrell; Affaire gagnée !;
                                                      Negocio perdido: Hoteles Cantábrico

Arrows: in "A → B → C" only C is the stage now. The part before the last arrow is dropped
when it is a stage (a closed one, or one of [stages] open: "Negotiation", "Contrat
envoyé"), so "Closed Won :arrow_right: Negotiation" is not a win, while "Wonka Industries →
no-decision" keeps its account. A line that is only a previous-stage field ("From:
Closed won", "Etapa anterior: …", "Ancienne phase : …") is removed before matching.

Guards: a match is dropped when

* one of the eight words before it, in the same clause (after the last . ! ? ; , | •
  or "but"), is a negation or a hedge ([guards] hedges in every word file: not, never,
  any "n't", "'ll", "'d", if, unless, hope, maybe, will, almost, forecast, pending, no,
  si, casi, ojalá, ne, pas, presque, peut-être, …): "we haven't lost Acme", "if Acme
  signed", "hopefully closed won", "No vamos a perder X", "On a presque gagné X";
* its sentence ends with "?" ("Did Acme sign?", "closed won?");
* it is followed by a deadline: "by Friday", "by end of ...", "next week", "tomorrow",
  "soon", "hopefully", "pending", "expected";
* its stage is the old side of a change: "from <STAGE-VALUE>", "<STAGE-VALUE> →", a
  "(was <STAGE-VALUE>)" aside, and whole "Previous/Old/Prior stage: …" fields are removed
  first, so "Stage changed from Closed Won to Negotiation" is not a win;
* the message says "reopened" anywhere: a reopened deal is open again, whatever stage
  it names.

Resolution: the strongest terminal matches (won, lost, no_decision) decide; proposal_sent
and proposal_due only count when there is no terminal match at all, and then "sent" wins
(once it is out, it is out). Won together with lost or
no_decision at the same strength is a contradiction and gives None; lost together with
no_decision gives no_decision (the more specific word).

Not deals (each is a test): "we lost the notes", "lost track of time", "I lost my voice",
"won't sign", "nothing was decided at lunch", "no decision yet on the venue", "Acme
stalled", "Acme went dark", "I did nothing all weekend", "signed up for the webinar",
"Acme signed the NDA", "Jane signed off on the discount", "won the raffle", "we won an
award", "win/loss review", "our closed-won rate is up", "12 closed won deals this
quarter", "Acme is close to signing", "hopefully closed won by Friday", "Did we win Acme?".

`parse_outcome()` also accepts one bare word or stage name for the `/loop deal` command:
won, win, lost, loss, lose, no-decision, no decision, nodecision, no_decision, nd,
closed-won, closed-lost, closed-no-decision, proposal, proposal-sent. A channel message
that is only "won" or "lost" does not count: alone, it is too often a reply to something
else.

Work is bounded, whatever is pasted: a message is read up to its 2,400th character (its
flattened text), for its outcome in its first 800, each line up to its 600th, and
matching stops after 16 candidate matches (8 per rule and line); each rule runs only on a
line holding a word it needs. The parser remembers the last message it read, so needs_asking()
right after parse_deal_message() does not parse it again.

Account
-------
First found wins:

1. a field "LABEL: VALUE" with an account label of the word files (Account, Company,
   Opportunity, Deal, Lead, Negocio, Cuenta, Empresa, Affaire, Compte, Société, …), at a
   line start first, then after a delimiter or "for/on/to" ("… for Lead: Acme"); a value
   that is a stage, an e-mail or a heading ("New Deal Closed") is skipped;
2. an attachment `title` or a `header` block (skipped when it is a notification such as
   "Opportunity updated"; "Acme – Closed Won" gives "Acme");
3. around the deciding match: the name the rule itself captured ("we won Acme", "lost
   Acme to …", "Acme signed", "won the Acme deal"), else the NAME just before it
   ("Acme — closed won", "Opportunity Acme – Renewal moved to Closed Won"; linking
   words, pronouns and lowercase deal nouns in between are skipped: "Acme Corp renewal
   is closed won", "Hooli: they went with a competitor"), else the NAME right after it,
   after a delimiter or emoji, or after "for/with/at/on/from" ("Closed Won: Acme
   ($50,000)", "closed/won Acme Corp");
   A name in «quotes» just before the match counts too ("La negociación «Ferretería
   Olmos» se movió a …"), and a name may end in a number ("Studio 54", "Route 66 Diner");
4. a line that is all bold (`*Acme – Renewal*`);
5. a name alone on the line under the match (a heading: "*New Deal Closed*" / "Initrode");
6. "with NAME" on a matching line (not "went with"), or "to NAME" for a proposal;
7. the label of a link that is a name (the CRM record the post links to).

Values are cleaned: links become their labels, mrkdwn is stripped, amounts in brackets
and trailing stage words are cut, a leading "Opportunity"/"Deal"/"Yesterday"/... is
dropped, and the result is at most 80 characters. Pronouns, weekdays, months, tools
(Slack, Zoom, ...) and internal teams (Legal, Finance, ...) are never accounts.

Amount (`parse_amount`)
-----------------------
::

    NUMBER  = digits with "," "." or thin/no-break-space thousands groups and an optional
              decimal part: 50,000 | 12.500 | 12,500.50 | 12.500,50 | 1.5 | 12000
    MULT    = "k" | "m" | "mm" | "mn" | "bn" | "thousand" | "million" | "billion"
    SYMBOL  = "$" | "US$" | "USD" | "€" | "EUR" | "£" | "GBP" | (after) "dollars" | "euros"
    amount  = LABEL [ "(" code ")" ] (":"|"=") (SYMBOL NUMBER [MULT] | NUMBER [MULT] [SYMBOL])
            | SYMBOL NUMBER [MULT] | NUMBER [MULT] SYMBOL
            | NUMBER [MULT] ("ARR"|"ACV"|"TCV"|"MRR")
    LABEL   = amount | deal value | deal size | deal amount | contract value | value
            | acv | arr | tcv | mrr | price | revenue

A labelled amount beats an unlabelled one; otherwise the first one in the text wins. A
single separator followed by exactly three digits groups thousands ("€12.500" = 12500,
"$12,500" = 12500); otherwise it is the decimal point ("$1.5k" = 1500, "€12,50" =
12.50). The currency is "USD", "EUR", "GBP", or None when only a label marks the number
("Amount: 12000", "50k ARR"). Before a trailing symbol, plain spaces may group thousands
too ("12 500 €"). Bare numbers ("Q3", "3 seats", "2024") are never amounts, and other
currencies ("C$5,000") are not read.

Rep
---
`rep_email`: the first email on an owner line ([labels] owner: "Owner", "Deal owner",
"Account executive", "AE", "Assigned to", "Propietario", "Propriétaire", …), plain or as
a `<mailto:…>` link; an email elsewhere (a client contact) is ignored. `rep_user_id`: a
mention on an owner line ("Account Executive: <@U…>"), else the first `<@U…>` in the
message, else — only when no owner e-mail is named — the poster's `user` (never a bot's:
an event with a `bot_id` or a `bot_message` subtype has no poster). So "Closed won: Globex.
Owner: rita@example.com" typed by a manager carries rita's e-mail and no user id, and the
handler looks rita up by e-mail instead of giving the deal to the manager.

needs_asking(event)
-------------------
True for a person's root message (not a bot, not a thread reply) that mentions someone,
holds an [ask] outcome word that no hedge voids ("closed", "ganado", "perdu", …) followed
by nothing, a pronoun ("it", "them") or a name — not by a thing ("closed the door", "lost
his headphones", "signed up") —, has no question mark and no [ask] chatter word ("match",
"partido", "badge", …), and that the rules above could not read: "<@U1> got it signed
:tada:", "Initech is closed, nice one <@U1>". The intake then asks the poster "Did a deal
close?".
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from bot.deals.vocabulary import SCHEMA, DealWords, DealWordsError, load_deal_words

__all__ = [
    "ACCOUNT_LIMIT",
    "SOURCE_TEXT_LIMIT",
    "DealSignal",
    "DealWordsError",
    "PROPOSAL_OUTCOMES",
    "message_text",
    "needs_asking",
    "parse_amount",
    "parse_deal_message",
    "parse_outcome",
    "use_deal_words",
    "current_words",
]

# proposal_due: the deal moved into the proposal stage, or the proposal is about to go out
# (the moment to tee up the debrief); proposal_sent: it is already out.
Outcome = Literal["won", "lost", "no_decision", "proposal_sent", "proposal_due"]
PROPOSAL_OUTCOMES: frozenset[str] = frozenset({"proposal_sent", "proposal_due"})

SOURCE_TEXT_LIMIT = 2000
ACCOUNT_LIMIT = 80
# Deal updates are short (a CRM alert with ten fields is well under 1,000 characters).
# Cutting longer messages keeps the work per message bounded however much text someone
# pastes into the channel.
_PARSE_LIMIT = 2_400


@dataclass(frozen=True)
class DealSignal:
    outcome: Outcome
    account: str | None
    amount: Decimal | None
    currency: str | None
    rep_user_id: str | None
    rep_email: str | None
    source_text: str  # the flattened text that was parsed (for debugging/storage), ≤ 2000 chars


# --------------------------------------------------------------------------- flattening


def message_text(event: dict[str, Any]) -> str:
    """Flatten text + attachments (pretext, title, text, fields "Title: value", fallback only
    when nothing else) + blocks (section text and fields, header, context, rich_text elements
    incl. user mentions as <@U…>, links) into one string, lines separated by newlines."""
    if not isinstance(event, dict):
        return ""
    chunks = [_without_quoted_lines(_scalar(event.get("text")))]
    for attachment in _dicts(event.get("attachments")):
        if _is_shared_message(attachment):
            continue
        chunks.extend(_attachment_chunks(attachment))
    chunks.extend(_block_chunks(event.get("blocks")))
    return _join_lines(chunks)


_QUOTED_LINE = re.compile(r"^\s*(?:&gt;|>)")
_SHARE_KEYS = ("is_msg_unfurl", "is_share", "is_reply_unfurl", "message_blocks")


def _without_quoted_lines(text: str) -> str:
    # A `>` line quotes someone else's words (often an old deal post): never a statement.
    return "\n".join(line for line in text.split("\n") if not _QUOTED_LINE.match(line))


def _is_shared_message(attachment: dict[str, Any]) -> bool:
    """A shared or linked Slack message shown under a post: old news, not the poster's."""
    return any(attachment.get(key) for key in _SHARE_KEYS)


def _field_text(value: object) -> str:
    """A Block Kit field "*Deal stage*\nClosed won" read as "Deal stage: Closed won", so a
    label and its value stay on one line (as an attachment field's title and value do)."""
    text = _text_object(value)
    head, sep, rest = text.partition("\n")
    label = head.strip()
    if sep and rest.strip() and re.fullmatch(r"[*_]*[^*_:\n]{1,60}?[*_]*:?[*_]*", label):
        name = label.strip("*_ ").rstrip(":").strip("*_ ")
        if name and not _USER_MENTION.search(name):
            return f"{name}: {rest.strip()}"
    return text


def _scalar(value: object) -> str:
    # HubSpot field values can arrive as JSON numbers; booleans are never text.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _dicts(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _attachment_chunks(attachment: dict[str, Any]) -> list[str]:
    chunks = [_scalar(attachment.get(key)) for key in ("pretext", "title", "text")]
    for field in _dicts(attachment.get("fields")):
        title = _scalar(field.get("title")).strip()
        value = _scalar(field.get("value")).strip()
        if value:
            chunks.append(f"{title}: {value}" if title else value)
    chunks.extend(_block_chunks(attachment.get("blocks")))
    if not any(chunk.strip() for chunk in chunks):
        # The fallback is a plain-text summary of the same attachment; reading it next to
        # the real content would only repeat it (and could repeat an old stage name).
        chunks.append(_scalar(attachment.get("fallback")))
    return chunks


def _text_object(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _scalar(value.get("text"))
    return ""


def _block_chunks(blocks: object) -> list[str]:
    chunks: list[str] = []
    for block in _dicts(blocks):
        kind = block.get("type")
        if kind in ("section", "header", "markdown"):
            chunks.append(_text_object(block.get("text")))
            fields = block.get("fields")
            if isinstance(fields, list):
                chunks.extend(_field_text(field) for field in fields)
        elif kind == "context":
            # Context elements are shown side by side, so they read as one line.
            parts = (_text_object(element) for element in _dicts(block.get("elements")))
            chunks.append(" ".join(part for part in parts if part))
        elif kind == "rich_text":
            chunks.extend(_rich_text_chunks(block.get("elements"), depth=0))
    return chunks


def _rich_text_chunks(elements: object, *, depth: int) -> list[str]:
    chunks: list[str] = []
    for element in _dicts(elements):
        if element.get("type") == "rich_text_quote":
            continue  # quoted words are someone else's (often an old deal post)
        if element.get("type") == "rich_text_list":
            if depth < 3:  # lists nest; malformed input must not recurse without end
                chunks.extend(_rich_text_chunks(element.get("elements"), depth=depth + 1))
        else:
            chunks.append(_rich_inline(element.get("elements")))
    return chunks


def _escape(text: str) -> str:
    # Rich-text elements hold raw text while `text` holds Slack-escaped mrkdwn; escaping
    # makes the two read alike, so the duplicate lines collapse into one.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rich_inline(elements: object) -> str:
    parts: list[str] = []
    for element in _dicts(elements):
        kind = element.get("type")
        if kind == "text":
            parts.append(_escape(_scalar(element.get("text"))))
        elif kind == "user" and _scalar(element.get("user_id")):
            parts.append(f"<@{_scalar(element.get('user_id'))}>")
        elif kind == "link":
            url = _scalar(element.get("url")).replace("|", "%7C").replace(">", "%3E")
            label = _escape(_scalar(element.get("text"))).replace("|", " ")
            if url:
                parts.append(f"<{url}|{label}>" if label else f"<{url}>")
            else:
                parts.append(label)
        elif kind == "emoji" and _scalar(element.get("name")):
            parts.append(f":{_scalar(element.get('name'))}:")
        elif kind == "channel" and _scalar(element.get("channel_id")):
            parts.append(f"<#{_scalar(element.get('channel_id'))}>")
        elif kind == "usergroup" and _scalar(element.get("usergroup_id")):
            parts.append(f"<!subteam^{_scalar(element.get('usergroup_id'))}>")
        elif kind == "broadcast" and _scalar(element.get("range")):
            parts.append(f"<!{_scalar(element.get('range'))}>")
        elif kind == "date":
            parts.append(_scalar(element.get("fallback")))
    return "".join(parts)


def _join_lines(chunks: list[str]) -> str:
    seen: set[str] = set()
    lines: list[str] = []
    for chunk in chunks:
        for line in chunk.splitlines():
            line = line.strip()
            if line and line not in seen:
                seen.add(line)
                lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------------ normalising

_MAILTO = re.compile(r"<mailto:([^<>|\s]+)(?:\|[^<>]*)?>", re.I)
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>")
_SLACK_REF = re.compile(r"<([^<>|\n]*)(?:\|([^<>\n]*))?>")
_BARE_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
# The lookahead keeps this linear: "[…]*[a-z][…]*" backtracks quadratically on long runs.
_EMOJI = re.compile(r":(?=[a-z0-9_+'-]{0,60}[a-z])[a-z0-9_+'-]{1,60}:")
# "Closed Won :arrow_right: Negotiation": an emoji arrow is an arrow; the last stage is current.
_EMOJI_ARROW = re.compile(
    r":(?:arrow_right|arrow_forward|point_right|fast_forward|right_arrow|heavy_arrow_right"
    r"|long_arrow_right|arrow_heading_right|heavy_right_arrow|rightwards_arrow):|➡️?|⟶|⇨|-->",
)
_MRKDWN = re.compile(r"[*~`]|(?<![^\W_])_|_(?![^\W_])")
_SPACES = re.compile(r"[ \t\u00a0]+")


def _slack_ref(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("#"):
        return f"#{label}" if label else "#channel"
    if target.startswith("!"):
        return label or "@here"
    # A bare link's address is no part of the prose; a labelled link reads as its label.
    return f" {label} " if label else " "


def _plain(text: str) -> str:
    """The text as a reader sees it, one normalised line per line."""
    text = _MAILTO.sub(lambda m: m.group(1), text)
    text = _USER_MENTION.sub(" @rep ", text)
    text = _SLACK_REF.sub(_slack_ref, text)
    if "://" in text or "www." in text.lower():
        text = _BARE_URL.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _EMOJI_ARROW.sub(" → ", text)
    text = _EMOJI.sub(" · ", text)
    text = _MRKDWN.sub("", text)
    return "\n".join(_squeezed(line) for line in text.split("\n"))


def _squeezed(line: str) -> str:
    if "  " in line or "\t" in line or "\u00a0" in line:
        line = _SPACES.sub(" ", line)
    return line.strip()


# ---------------------------------------------------------------------------- amounts

_NUMBER = (
    r"(?<![\d.,])(?:\d{1,3}(?:[.,\u202f]\d{3})+(?:[.,]\d{1,2})?(?!\d)"
    r"|\d{1,12}(?:[.,]\d{1,2})?(?![\d.,]\d|\d))"
)
# Space-grouped thousands ("12 500 €") only where a currency follows, because elsewhere
# "$50 100 users" would read as 50100.
_NUMBER_SPACED = (
    rf"(?:(?<![\d.,])\d{{1,3}}(?:[ \u202f]\d{{3}})+(?:,\d{{1,2}})?(?![\d.,]\d|\d)|{_NUMBER})"
)
_MULT = r"(?:\s?(?P<mult>k|mm|mn|m|bn)(?![a-z])|\s+(?P<multw>thousand|million|billion)\b)"
_SYMBOL_BEFORE = r"(?P<sym>US\$|(?<![a-z])\$|€|£|(?<![a-z])(?:USD|EUR|GBP)(?![a-z]))"
_SYMBOL_AFTER = r"(?P<sym>€|£|\$|(?:USD|EUR|GBP|dollars?|euros?)(?![a-z]))"
_PREFIXED = re.compile(rf"{_SYMBOL_BEFORE}\s?(?P<num>{_NUMBER}){_MULT}?", re.I)
_SUFFIXED = re.compile(rf"(?P<num>{_NUMBER_SPACED}){_MULT}?\s?{_SYMBOL_AFTER}", re.I)
_METRIC = re.compile(rf"(?P<num>{_NUMBER}){_MULT}?\s*(?:ARR|ACV|TCV|MRR)(?![a-z])", re.I)
_BARE_NUMBER = re.compile(rf"(?P<num>{_NUMBER}){_MULT}?(?![\w%/])", re.I)
_AMOUNT_LABEL_TAIL = r"(?:\s*\(\s*(?P<code>USD|EUR|GBP|\$|€|£)\s*\))?\s*[:=]\s*"
_CURRENCIES = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP",
}  # fmt: skip
_MULTIPLIERS = {
    "k": Decimal(1000), "thousand": Decimal(1000),
    "m": Decimal(1_000_000), "mm": Decimal(1_000_000), "mn": Decimal(1_000_000),
    "million": Decimal(1_000_000), "bn": Decimal(1_000_000_000),
    "billion": Decimal(1_000_000_000),
}  # fmt: skip


def parse_amount(text: str) -> tuple[Decimal, str | None] | None:
    """The deal's amount and its currency code (USD/EUR/GBP, or None when only a label such
    as "Amount:" marks the number); None when the text names no amount."""
    if not isinstance(text, str) or not text:
        return None
    return _amount_in(_plain(text[:_PARSE_LIMIT]))


def _amount_in(plain: str) -> tuple[Decimal, str | None] | None:
    """parse_amount() on text that is already plain (see _plain)."""
    labels = _V.amount_label.finditer(plain) if _V.needs["amount"].search(_fold(plain)) else ()
    for label in labels:
        code = label.group("code")
        for pattern in (_PREFIXED, _SUFFIXED, _BARE_NUMBER):
            match = pattern.match(plain, label.end())
            found = _amount(match, code) if match else None
            if found:
                return found
    return _first_amount(plain)


# Only a currency symbol or code can start a prefixed amount ("ſ" reads as "s" for a
# case-blind pattern, so it is folded too).
_SYMBOL_GATE = re.compile(r"[$€£]|usd|eur|gbp")
_DIGIT_RUN = re.compile(r"\d+")


def _first_amount(plain: str) -> tuple[Decimal, str | None] | None:
    """The first amount by where it starts, of the first prefixed ("$5k"), suffixed
    ("12 500 €") and metric ("50k ARR") amounts of the text. The suffixed and metric
    patterns are only tried where a run of digits starts, and no further than the
    prefixed one: one walk over the digits, instead of a pass per pattern over it all."""
    prefixed = _PREFIXED.search(plain) if _SYMBOL_GATE.search(_fold(plain)) else None
    pending = [_SUFFIXED, _METRIC]
    for run in _DIGIT_RUN.finditer(plain):
        if prefixed is not None and run.start() > prefixed.start():
            found = _amount(prefixed, None)
            prefixed = None
            if found:
                return found
        for pattern in tuple(pending):
            match = pattern.match(plain, run.start())
            if match:
                pending.remove(pattern)  # each pattern offers its first match only
                found = _amount(match, None)
                if found:
                    return found
        if not pending:
            break
    return _amount(prefixed, None) if prefixed is not None else None


def _amount(match: re.Match[str], code: str | None) -> tuple[Decimal, str | None] | None:
    groups = match.groupdict()
    mult = groups.get("mult") or groups.get("multw")
    value = _to_decimal(groups["num"], mult)
    if value is None:
        return None
    symbol = groups.get("sym") or code
    return value, (_CURRENCIES.get(symbol.lower()) if symbol else None)


def _to_decimal(number: str, mult: str | None) -> Decimal | None:
    digits = re.sub(r"[\s\u202f]", "", number)
    if "." in digits and "," in digits:
        # Both separators: whichever comes last is the decimal point (12.500,50 / 12,500.50).
        decimal_sep = "." if digits.rfind(".") > digits.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        digits = digits.replace(thousands, "").replace(decimal_sep, ".")
    elif "." in digits or "," in digits:
        sep = "." if "." in digits else ","
        tail = digits.rpartition(sep)[2]
        if digits.count(sep) > 1 or len(tail) == 3:
            digits = digits.replace(sep, "")
        else:
            digits = digits.replace(sep, ".")
    try:
        value = Decimal(digits) * _MULTIPLIERS.get((mult or "").lower(), Decimal(1))
        if value == value.to_integral_value():
            value = value.quantize(Decimal(1))
    except InvalidOperation:
        return None
    return value


# ---------------------------------------------------------------------------- outcome


def _any_of(words: tuple[str, ...] | set[str]) -> re.Pattern[str]:
    """A search for any of these exact strings: one pass in C, where a Python loop of
    `in` tests costs a call per word (and a case-blind pattern is slower still)."""
    ordered = sorted(set(words), key=lambda word: (-len(word), word))
    return re.compile("|".join(re.escape(word) for word in ordered) or r"(?!x)x")


_B = r"(?<![\w'’])"  # a keyword starts a word
_E = r"(?![\w'’])"  # ...and ends one, but not before an apostrophe: "won't" is not "won"
_GAP = r"[\s\-/_:\u2013\u2014]*"
_ND = rf"no[\s\-_]*decision{_E}"


def _stage_value(named: bool) -> str:
    def group(name: str, body: str) -> str:
        return f"(?P<{name}>{body})" if named else f"(?:{body})"

    return (
        rf"(?:closed{_GAP})?(?:"
        + group("nd2", rf"lost{_GAP}\(?\s*{_ND}\)?")
        + "|"
        + group("won", rf"won{_E}")
        + "|"
        + group("lost", rf"lost{_E}")
        + "|"
        + group("nd", _ND)
        + ")|"
        + group("proposal", rf"proposal{_GAP}(?:sent|submitted|made){_E}")
        + "|"
        + group("due", rf"proposal(?:{_GAP}price\s+quote)?{_E}")
    )


_STAGE_VALUE = _stage_value(named=True)
_STAGE_TERM = _stage_value(named=False)
_QUOTE_OPEN = r"[\"“'(\[]?"
_QUOTE_CLOSE = r"[\"”')\]]?"
_VALUE_END = r"(?=\s*(?:$|[^\w\s]|(?:for|on|at|by|with|from|today|yesterday)(?![\w'’])))"
_STAGE_LABEL = (
    r"(?:(?:deal|opportunity|opp|sales|pipeline)[\s_]*)?stage(?:[\s_]*name)?|dealstage"
    r"|(?:deal\s+|opportunity\s+)?status|outcome|result"
)
_STAGE_FIELD = re.compile(
    rf"{_B}(?:{_STAGE_LABEL})\s*(?:[:=]|\bis(?:\s+now)?\b|\bnow\b)?\s*"
    rf"{_QUOTE_OPEN}(?:{_STAGE_VALUE}){_QUOTE_CLOSE}{_VALUE_END}",
    re.I,
)
_TRANSITION = re.compile(
    rf"{_B}(?:moved|changed|updated|set|advanced|progressed|switched|marked|pushed|converted"
    rf"|closed)(?:\s+\S+){{0,4}}?\s+(?:to|into|as)\s+(?:stage\s+)?"
    rf"{_QUOTE_OPEN}(?:{_STAGE_VALUE}){_QUOTE_CLOSE}{_VALUE_END}",
    re.I,
)
_MARKED = re.compile(rf"{_B}marked\s+{_QUOTE_OPEN}(?:{_STAGE_VALUE}){_VALUE_END}", re.I)
_ARROW = re.compile(
    rf"(?:→|->|=>|⇒|➡)\s*{_QUOTE_OPEN}(?:{_STAGE_VALUE}){_QUOTE_CLOSE}{_VALUE_END}", re.I
)
_ND_REASON = re.compile(
    rf"{_B}(?:(?:closed[\s\-_]*)?(?:loss|lost)[\s_]*)?reason\s*[:=]\s*[\"“']?"
    rf"(?:{_ND}|(?:the\s+)?status\s+quo|(?:did|do)\s+nothing)",
    re.I,
)
_CLOSED = re.compile(
    rf"{_B}closed{_GAP}(?:(?P<nd2>lost{_GAP}\(?\s*{_ND}\)?)|(?P<won>won{_E})|(?P<lost>lost{_E})"
    rf"|(?P<nd>{_ND}))",
    re.I,
)
_REPORT_NEXT = re.compile(
    r"\s*(?:%|vs\b|versus\b|(?:and|or|&|/)\s*closed|(?:deals|opps|opportunities|accounts|rates?|ratio|revenue|pipeline"
    r"|reports?|numbers|metrics|count|totals?|analysis|reviews?|reasons|stats|dashboards?"
    r"|forecasts?|trends?|percentage|column|ytd|qtd|mtd|to\s+date"
    r"|(?:this|last)\s+(?:quarter|year|month))(?![\w'’]))",
    re.I,
)
# "12 closed won", "won vs closed lost", "won and closed lost": counting or listing stages.
_COUNT_BEFORE = re.compile(r"(?:(?<![\w.,])\d+%?|(?<![\w])(?:vs\.?|versus|and|or|&)|/)\s*$", re.I)

# The old side of a stage change, removed before matching so it cannot read as news.
_PREVIOUS_FIELD = re.compile(
    r"(?<![\w])(?:previous|old|prior|original|former|from)[\s_]+(?:deal[\s_]*|opportunity[\s_]+)?"
    r"(?:stage|status|value)\s*[:=][^|\n;]*",
    re.I,
)
_FROM_STAGE = re.compile(
    rf"{_B}from\s+(?:the\s+)?(?:stage\s+)?{_QUOTE_OPEN}(?:{_STAGE_TERM}){_QUOTE_CLOSE}", re.I
)
_WAS_STAGE = re.compile(
    rf"\(\s*(?:was|previously|formerly|prev\.?|from)\s*:?\s*(?:{_STAGE_TERM})\s*\)", re.I
)
_STAGE_BEFORE_ARROW = re.compile(rf"{_B}(?:{_STAGE_TERM}){_QUOTE_CLOSE}\s*(?=→|->|=>|⇒|➡)", re.I)
_REOPENED = re.compile(r"(?<![\w])re-?open(?:ed|s|ing)?(?![\w])", re.I)

_CLAUSE_END = r"(?=\s*(?:$|[^\w\s]|(?:to|with|for|at|by|from|over|against|today|yesterday)\b))"
_DEAL_NOUN = (
    r"(?:deals?|opportunit(?:y|ies)|opps?|oppty|contracts?|bids?|rfps?|tenders?|renewals?"
    r"|business|account|logo|order)"
)
_AFTER_DEAL_NOUN = (
    r"(?=\s*(?:$|[^\w\s]|(?:to|with|for|at|from|over|against|in|on|by|and|but|because|due"
    r"|after|today|yesterday|this|last|again|back)\b))"
)
_DEAL_VERDICT = re.compile(
    rf"{_B}(?:deal|opportunity|opp|oppty|contract|renewal|rfp|bid|tender)\s+"
    rf"(?:(?:is|was|has|been|got|just|now|officially|finally|also|all)\s+){{0,3}}"
    rf"(?:(?P<won>won)|(?P<lost>lost)){_E}{_CLAUSE_END}",
    re.I,
)
_VERB_THE_DEAL = re.compile(
    rf"{_B}(?:(?P<won>won)|(?P<lost>lost)){_E}\s+(?:back\s+)?"
    rf"(?:the|this|that|our|a|an|their|another|[\w&.-]+['’]s)\s+"
    rf"(?P<mid>(?:[\w&.'’-]+\s+){{0,3}}?){_DEAL_NOUN}{_E}{_AFTER_DEAL_NOUN}",
    re.I,
)
_SUBJECT = r"(?:we|i|you|team|@rep)(?:['’]ve|\s+have|\s+has)?"
_ADVERBS = r"(?:\s+(?:just|finally|officially|totally|actually|also|all|really|have))*"
_SUBJECT_VERDICT = re.compile(
    rf"{_B}{_SUBJECT}{_ADVERBS}\s+(?:(?P<won>won)|(?P<lost>lost)){_E}", re.I
)
_NO_OBJECT = re.compile(
    r"\s*(?:$|[^\w\s$€£@#]|(?:this|that)\s+one\b|them\b|(?:the|our)\s+(?:client|customer|logo)\b"
    r"|(?:out|again|today|yesterday)\s*(?:$|[^\w\s]))",
    re.I,
)
_AFTER_OBJECT_NAME = re.compile(
    rf"\s*(?:$|[^\w\s]|{_DEAL_NOUN}\b|(?:to|over|from|against|today|yesterday|this|last|again"
    r"|back|after)\b|(?:for|at|with)\s+[$€£\d])",
    re.I,
)
_LOST_WORD = re.compile(rf"{_B}lost\s+", re.I)
_ARTICLES = frozenset({"a", "an", "the", "another"})
_LOST_TO_RIVAL = re.compile(
    rf"{_B}lost\s+(?:out\s+)?to\s+(?:(?:a|an|the|another|one\s+of\s+(?:our|the))\s+)?"
    r"(?:[\w-]+\s+)?(?:competitors?|competition|rivals?|incumbent"
    rf"|(?:other|another|different|cheaper)\s+(?:vendor|provider|solution|option|tool)){_E}",
    re.I,
)
_LOST_TO = re.compile(rf"{_B}lost\s+(?:out\s+)?to\s+", re.I)
_LOST_TO_SUBJECT = re.compile(
    rf"(?:^|[^\w\s@]|{_B}{_SUBJECT}(?:\s+(?:just|finally|also))*)\s*$", re.I
)
_WENT_WITH_RIVAL = re.compile(
    rf"{_B}(?:went\s+with|gone\s+with|chose|chosen|picked|selected|signed\s+with|switched\s+to"
    r"|moved\s+to|stayed\s+with|stuck\s+with)\s+"
    r"(?:(?:a|an|the|another|one\s+of\s+(?:our|the))\s+)?(?:[\w-]+\s+)?"
    r"(?:competitors?|competition|rivals?|incumbent|someone\s+else"
    r"|(?:other|another|different)\s+(?:vendor|provider|solution|supplier|option|tool))"
    rf"{_E}",
    re.I,
)
_DO_NOTHING = re.compile(
    rf"{_B}(?:(?:decided|chose|opted|elected)\s+to\s+do\s+nothing"
    r"|(?:decided|chose|opted|elected)\s+not\s+to\s+(?:buy|purchase|move\s+forward|proceed"
    r"|go\s+ahead)"
    r"|(?:stayed|stuck|went|remained|staying|sticking)\s+with\s+(?:the\s+|their\s+)?status\s+quo"
    r"|chose\s+(?:the\s+)?status\s+quo"
    rf"|lost\s+(?:out\s+)?to\s+(?:the\s+)?(?:status\s+quo|{_ND}|inertia|do[\s-]nothing))",
    re.I,
)
_ND_JARGON = re.compile(rf"{_B}(?:no[-_]decision|nodecision){_E}", re.I)
_ND_SPACED = re.compile(rf"{_B}no\s+decision{_E}", re.I)
_ND_BEFORE = re.compile(
    r"(?:^|[^\w\s]|(?<![\w])(?:closed|marked(?:\s+as)?|as|went|ended\s+(?:up\s+)?(?:in|with|as)"
    r"|resulted\s+in|outcome|verdict))\s*$",
    re.I,
)
_ND_AFTER = re.compile(r"\s*(?i:made\s*)?(?:$|[^\w\s])")
_ND_AFTER_NAME = re.compile(r"\s*(?i:made\s+)?(?i:on|for|from|by|with)\s+")
_CONTRACT = r"(?:contract|deal|agreement|order\s+form|paperwork|papers|msa|sow|po|renewal)"
_NOT_A_CONTRACT = frozenset(
    {"nda", "ndas", "loi", "mou", "dpa", "baa", "pilot", "trial", "poc", "non-disclosure",
     "confidentiality", "evaluation", "mutual"}
)  # fmt: skip
_CONTRACT_OBJECT = re.compile(
    rf"\s+(?:(?:the|a|an|our|their|its|[\w&.-]+['’]s)\s+)?(?P<mid>(?:[\w&.'’-]+\s+){{0,2}}?)"
    rf"{_CONTRACT}{_E}|\s+on\s+the\s+dotted\s+line",
    re.I,
)
_CONTRACT_SIGNED = re.compile(
    rf"{_B}(?:{_CONTRACT}|dotted\s+line)\s+(?:(?:is|was|has|have|been|got|now|all|just|finally"
    rf"|officially|fully)\s+){{0,3}}(?:signed|countersigned){_E}(?!\s+(?:off|up|out|in)\b)",
    re.I,
)
_SIGNED_CONTRACT = re.compile(rf"{_B}(?:signed|countersigned){_E}", re.I)
_NAME_SIGNED = re.compile(
    rf"{_B}(?:(?:has|have|just|finally|officially|all|now)\s+)*(?:signed|countersigned){_E}",
    re.I,
)
_SIGNED_TAIL = re.compile(
    r"\s*(?:$|[^\w\s$€£]|with\s+us\b|for\s+[$€£\d]"
    r"|(?:today|yesterday|this\s+(?:morning|afternoon|week)|at\s+last)\s*(?:$|[^\w\s]))",
    re.I,
)
_SIGNED_PRONOUN = re.compile(
    r"(?:^|\s)(?:they|(?:the\s+)?client|(?:the\s+)?customer)(?:\s+(?:have|has|just|finally))*\s*$",
    re.I,
)
_SUBJECT_SIGNED = re.compile(
    rf"{_B}(?:{_SUBJECT}(?:\s+(?:just|finally|officially|also))*|just|finally|officially)"
    r"\s+signed\s+",
    re.I,
)
_SIGNED_ALONE = re.compile(
    r"^\W*(?:(?:just|finally|officially)\s+)?signed\s*(?:[!:\u2013\u2014]|-\s|-$|$)", re.I
)
_PROPOSAL_SENT = re.compile(
    rf"{_B}proposals?\s+(?:(?:is|was|has|have|been|got|just|now|finally|officially|all)\s+){{0,3}}"
    rf"(?:sent|submitted|delivered|went\s+out|out(?!\s+of\b)){_E}",
    re.I,
)
_SENT_PROPOSAL = re.compile(
    rf"{_B}(?:sent|submitted|delivered|emailed)\s+(?:(?:over|out|off)\s+)?"
    rf"(?:(?:the|a|an|our|my|their|[\w&.-]+['’]s)\s+)?(?P<mid>(?:[\w&.'’-]+\s+){{0,3}}?)"
    rf"proposals?{_E}",
    re.I,
)
# The proposal is about to go out: the moment to tee up the debrief.
_PROPOSAL_DUE = re.compile(
    rf"{_B}(?:(?:about|ready|getting\s+ready|going|set)\s+to\s+(?:send|submit)|sending|drafting"
    r"|drafted|writing|preparing|prepping|finali[sz]ing|putting\s+together)\s+"
    rf"(?:(?:over|out|off|up)\s+)?(?:(?:the|a|an|our|my|their|[\w&.-]+['’]s)\s+)?"
    rf"(?P<mid>(?:[\w&.'’-]+\s+){{0,3}}?)proposals?{_E}",
    re.I,
)
_PROPOSAL_READY = re.compile(
    rf"{_B}proposals?\s+(?:(?:is|now|just|all)\s+){{0,2}}(?:drafted|ready|done|written"
    rf"|going\s+out|goes\s+out|(?:almost|nearly)\s+(?:ready|done)){_E}",
    re.I,
)
_MOVING_TO_PROPOSAL = re.compile(
    rf"{_B}(?:moving|advancing|progressing|taking)\s+(?P<mid>(?:[\w&.'’-]+\s+){{0,4}}?)"
    rf"(?:to|into)\s+(?:the\s+)?proposals?(?:\s+stage)?{_E}",
    re.I,
)
_INTERNAL_PROPOSAL = re.compile(
    r"\s+(?:templates?|drafts?|outlines?|review|for\s+(?:review|feedback|approval)|internally"
    r"|to\s+(?:legal|finance|procurement|my|our|the\s+team|@rep|me|him|her))\b",
    re.I,
)

# A hedge only reaches across its own clause. "|" and "•" separate CRM fields on one line
# ("Forecast: Commit | Stage: Closed Won").
_CLAUSE_BREAK = re.compile(r"[!?;,|•]|\.(?!\d)|(?<![\w])(?:but|however|although)(?![\w])", re.I)
_HEDGE_WINDOW = 8
_DEADLINE_AFTER = re.compile(
    r"\s*(?:by\s+(?:the\s+)?(?:end|eod|eow|eom|eoq|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday|next|tomorrow|q[1-4])|next\s+(?:week|month|quarter)|tomorrow|soon"
    r"|hopefully|pending|expected)\b",
    re.I,
)


@dataclass(frozen=True)
class _Hit:
    outcome: Outcome
    strength: int  # 3 = CRM stage statement, 2 = "closed won" words, 1 = people's phrasing
    line: str
    start: int
    end: int
    account: str | None = None
    index: int = 0  # the line's position in the message


def _group_outcome(match: re.Match[str]) -> Outcome:
    groups = match.groupdict()
    if groups.get("won"):
        return "won"
    if groups.get("nd2") or groups.get("nd"):
        return "no_decision"
    if groups.get("lost"):
        return "lost"
    return "proposal_due" if groups.get("due") else "proposal_sent"


_ARROWS = re.compile(r"→|->|=>|⇒|➡")
_SEGMENT_START = re.compile(r".*(?:[:|\u2013\u2014]|\s-\s)", re.S)


def _current_stage(line: str) -> str:
    """ "Acme: Closed Won → Negotiation" -> "Acme: → Negotiation": with arrows between
    stages, only the last one is the deal's stage now."""
    arrows = list(_ARROWS.finditer(line))
    if not arrows:
        return line
    head, tail = line[: arrows[-1].start()], line[arrows[-1].end() :]
    label = _SEGMENT_START.match(head)
    kept = label.group() if label else ""
    old = _plain_words(head[len(kept) :])
    if not (_V.open_stage.fullmatch(old) or _V.any_stage.search(old)):
        return line  # "Wonka Industries → no-decision": an account, not an old stage
    return f"{kept} → {tail}"


def _plain_words(text: str) -> str:
    return re.sub(r"[^\w\s'’/-]+", " ", text).strip()


_ARROW_GATE = _any_of(("→", "->", "=>", "⇒", "➡", "»"))


# Words each clean-up needs in the line (lowercased) before its pattern is worth a pass.
_STAGE_TERM_GATE = _any_of(("won", "lost", "decision", "proposal"))
_PREVIOUS_GATE = _any_of(("previous", "old", "prior", "original", "former", "from"))


def _clean_line(line: str) -> str:
    if _ARROW_GATE.search(line):
        line = _current_stage(line)
        if _V.needs["stage"].search(_fold(line)):
            line = _V.stage_before_arrow.sub(" ", line)
        if _STAGE_TERM_GATE.search(line.lower()):
            line = _STAGE_BEFORE_ARROW.sub(" ", line)
    if ":" in line or "=" in line:
        if _PREVIOUS_GATE.search(line.lower()):
            line = _PREVIOUS_FIELD.sub(" ", line)
        if _V.needs["previous"].search(_fold(line)):
            line = _V.previous_field.sub(" ", line)
    if "(" in line:
        line = _WAS_STAGE.sub(" ", line)
    if "from" in line.lower():
        line = _FROM_STAGE.sub(" ", line)
    return line


# A deal line is short: CRM fields, a headline, a sentence or two. Past this many
# characters a line is pasted text (a log, an e-mail), and reading on would only cost time.
_LINE_LIMIT = 600
# ...and the outcome is said in a post's first lines: a message is read for it up to this
# many characters (the account, amount and owner are looked for in all of it). A CRM alert
# states its stage in its first few fields; the corpus's latest is 150 characters in.
_TEXT_BUDGET = 800
# A deal post makes a handful of matches (five at most in the corpus); a paste of
# thousands of stage words stops here.
_MAX_HITS = 16


def _find_hits(text: str) -> list[_Hit]:
    if "open" in text.lower() and _REOPENED.search(text):
        return []
    hits: list[_Hit] = []
    candidates = 0
    budget = _TEXT_BUDGET
    for index, raw_line in enumerate(text.split("\n")):
        if budget <= 0:
            break
        budget -= len(raw_line) + 1
        line = _clean_line(raw_line[:_LINE_LIMIT])
        if not line.strip():
            continue
        for outcome, strength, start, end, account in _line_matches(line):
            # "Sending the proposal tomorrow" is the moment to tee up, not a hedge.
            if not _hedged(line, start, end, deadline=outcome != "proposal_due"):
                hits.append(_Hit(outcome, strength, line, start, end, account, index))
            candidates += 1
            if candidates >= _MAX_HITS:
                return hits
    return hits


_Match = tuple[Outcome, int, int, int, str | None]


# Each rule group runs only on a line holding one of its words: one substring test is far
# cheaper than a regex pass, and most lines of a post hold none of them.
_GATES: tuple[tuple[re.Pattern[str], Callable[[str, str], Iterator[_Match]]], ...] = ()


def _line_matches(line: str) -> Iterator[_Match]:
    lowered = line.lower()
    for words, rules in _GATES:
        if words.search(lowered):
            yield from rules(line, lowered)
    # Each word rule has its own gate, so no pass of every phrase over the line first.
    yield from _word_matches(line, lowered if line.isascii() else _fold(line))


# Matches one rule looks at in one line: a deal line has one or two; a line repeating a
# keyword hundreds of times must not cost hundreds of name look-ups.
_PER_RULE = 8


def _each(pattern: re.Pattern[str], line: str) -> Iterator[re.Match[str]]:
    return islice(pattern.finditer(line), _PER_RULE)


# The words each rule cannot match without (a pattern is a pass over the line; a
# substring test is nearly free).
_STAGE_RULES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (_STAGE_FIELD, _any_of(("stage", "status", "outcome", "result"))),
    (_TRANSITION, _any_of(("to", "as"))),
    (_MARKED, _any_of(("marked",))),
    (_ARROW, _any_of(("→", "->", "=>", "⇒", "➡"))),
)
_DEAL_VERDICT_WORDS = ("deal", "opp", "contract", "renewal", "rfp", "bid", "tender")
_DEAL_VERDICT_GATE = _any_of(_DEAL_VERDICT_WORDS)
_DEAL_NOUN_GATE = _any_of((*_DEAL_VERDICT_WORDS, "business", "account", "logo", "order"))
_RIVAL_VERB_GATE = _any_of(
    ("went", "gone", "chose", "picked", "selected", "signed", "switched", "moved", "stayed",
     "stuck")
)  # fmt: skip
_DO_NOTHING_GATE = _any_of(("not", "status", "inertia", "decision"))


def _stage_matches(line: str, lowered: str) -> Iterator[_Match]:
    for pattern, words in _STAGE_RULES:
        if words.search(lowered):
            for m in _each(pattern, line):
                yield _group_outcome(m), 3, m.start(), m.end(), None
    if "reason" in lowered:
        for m in _each(_ND_REASON, line):
            yield "no_decision", 3, m.start(), m.end(), None


def _closed_matches(line: str, lowered: str) -> Iterator[_Match]:
    for m in _each(_CLOSED, line):
        if _REPORT_NEXT.match(line, m.end()) or _COUNT_BEFORE.search(_tail(line, m.start())):
            continue
        yield _group_outcome(m), 2, m.start(), m.end(), None


def _won_lost_matches(line: str, lowered: str) -> Iterator[_Match]:
    if _DEAL_VERDICT_GATE.search(lowered):
        for m in _each(_DEAL_VERDICT, line):
            yield _group_outcome(m), 1, m.start(), m.end(), None
    if _DEAL_NOUN_GATE.search(lowered):
        for m in _each(_VERB_THE_DEAL, line):
            yield _group_outcome(m), 1, m.start(), m.end(), _name_within(m.group("mid"))
    for m in _each(_SUBJECT_VERDICT, line):
        if _NO_OBJECT.match(line, m.end()):
            yield _group_outcome(m), 1, m.start(), m.end(), None
            continue
        found = _object_name(line, m.end())
        if found:
            yield _group_outcome(m), 1, m.start(), found[1], found[0]


def _object_name(line: str, pos: int) -> tuple[str, int] | None:
    """The account named right after a verb ("we won Acme!"), with where it ends."""
    found = _leading_name(line, pos)
    if found is None or _not_an_account(found[0]):
        return None
    # "signed Bob's card": a possessive names whose thing it is, not the account.
    if line[: found[1]].endswith(("'s", "’s")) or not _AFTER_OBJECT_NAME.match(line, found[1]):
        return None
    return found


def _signed_matches(line: str, lowered: str) -> Iterator[_Match]:
    for m in _each(_CONTRACT_SIGNED, line):
        yield "won", 1, m.start(), m.end(), None
    for m in _each(_SIGNED_CONTRACT, line):
        obj = _CONTRACT_OBJECT.match(line, m.end())
        if obj and not _names_a_side_agreement(obj.group("mid")):
            yield "won", 1, m.start(), obj.end(), None
    for m in _each(_NAME_SIGNED, line):
        prefix = _tail(line, m.start(), _REACH)
        subject = _trailing_name(line[: m.start()])
        if subject and _not_an_account(subject[0]):
            subject = None
        if subject is None and not _SIGNED_PRONOUN.search(prefix):
            continue  # "I signed", "Jane's manager signed": not a client signing
        obj = _CONTRACT_OBJECT.match(line, m.end())
        signed_a_contract = obj is not None and not _names_a_side_agreement(obj.group("mid"))
        if _SIGNED_TAIL.match(line, m.end()) or signed_a_contract:
            # The hedge window starts before the signer: "If Acme signed" is hypothetical.
            start = subject[1] if subject else m.start()
            yield "won", 1, start, m.end(), subject[0] if subject else None
    for m in _each(_SUBJECT_SIGNED, line):
        found = _object_name(line, m.end())
        if found:
            yield "won", 1, m.start(), found[1], found[0]
    m2 = _SIGNED_ALONE.match(line)
    if m2:
        yield "won", 1, m2.start(), m2.end(), None


def _names_a_side_agreement(mid: str | None) -> bool:
    words = re.findall(r"[\w-]+", (mid or "").lower())
    return any(word in _NOT_A_CONTRACT for word in words)


def _lost_to_matches(line: str, lowered: str) -> Iterator[_Match]:
    if "lost" in lowered and "to" in lowered:  # every rule but the last is "lost … to …"
        yield from _lost_to_rival_matches(line)
    if _RIVAL_VERB_GATE.search(lowered):
        for m in _each(_WENT_WITH_RIVAL, line):
            yield "lost", 1, m.start(), m.end(), None


def _lost_to_rival_matches(line: str) -> Iterator[_Match]:
    for m in _each(_LOST_WORD, line):
        found = _leading_name(line, m.end())
        if found is None or _not_an_account(found[0]):
            continue
        # "lost Acme to Globex" / "to a competitor": the rival is a name or an article.
        rival = re.match(r"\s+to\s+(\S+)", line[found[1] :])
        if rival and (rival.group(1)[0].isupper() or rival.group(1).lower() in _ARTICLES):
            yield "lost", 1, m.start(), found[1], found[0]
    for m in _each(_LOST_TO_RIVAL, line):
        yield "lost", 1, m.start(), m.end(), None
    for m in _each(_LOST_TO, line):
        rival_name = _leading_name(line, m.end())
        subject = _LOST_TO_SUBJECT.search(_tail(line, m.start()))
        if rival_name and not _not_an_account(rival_name[0]) and subject:
            yield "lost", 1, m.start(), rival_name[1], None


def _no_decision_matches(line: str, lowered: str) -> Iterator[_Match]:
    if _DO_NOTHING_GATE.search(lowered):
        for m in _each(_DO_NOTHING, line):
            yield "no_decision", 1, m.start(), m.end(), None
    if "decision" not in lowered:
        return
    for m in _each(_ND_JARGON, line):
        if not _REPORT_NEXT.match(line, m.end()):
            yield "no_decision", 1, m.start(), m.end(), None
    for m in _each(_ND_SPACED, line):
        if not _ND_BEFORE.search(_tail(line, m.start())):
            continue
        if _ND_AFTER.match(line, m.end()):
            yield "no_decision", 1, m.start(), m.end(), None
            continue
        lead = _ND_AFTER_NAME.match(line, m.end())
        found = _leading_name(line, lead.end()) if lead else None
        if (
            found
            and not _not_an_account(found[0])
            and re.match(r"\s*(?:$|[^\w\s])", line[found[1] :])
        ):
            yield "no_decision", 1, m.start(), found[1], found[0]


def _proposal_matches(line: str, lowered: str) -> Iterator[_Match]:
    for m in _each(_PROPOSAL_SENT, line):
        if not _INTERNAL_PROPOSAL.match(line, m.end()):
            yield "proposal_sent", 1, m.start(), m.end(), None
    for m in _each(_SENT_PROPOSAL, line):
        if not _INTERNAL_PROPOSAL.match(line, m.end()):
            yield "proposal_sent", 1, m.start(), m.end(), _name_within(m.group("mid"))
    for m in _each(_PROPOSAL_READY, line):
        if not _INTERNAL_PROPOSAL.match(line, m.end()):
            yield "proposal_due", 1, m.start(), m.end(), None
    for pattern in (_PROPOSAL_DUE, _MOVING_TO_PROPOSAL):
        for m in _each(pattern, line):
            if not _INTERNAL_PROPOSAL.match(line, m.end()):
                yield "proposal_due", 1, m.start(), m.end(), _name_within(m.group("mid"))


_REACH = 240


def _tail(line: str, end: int, reach: int = 60) -> str:
    """The text just before `end`: what a "...$"-anchored pattern needs to see. Searching
    the whole prefix instead costs a pass over the line per match (quadratic)."""
    return line[max(0, end - reach) : end]


_TERMINATOR = re.compile(r"[!?¿]|\.(?!\d)")


def _hedged(line: str, start: int, end: int, *, deadline: bool = True) -> bool:
    """True when a match is negated, hypothetical, a question or still in the future."""
    # Eight words fit in far less than _REACH characters; looking no further keeps the work
    # per match constant on a long line (it is quadratic otherwise).
    window = max(0, start - _REACH)
    breaks = [b.end() for b in _CLAUSE_BREAK.finditer(line, window, start)]
    before = line[breaks[-1] if breaks else window : start].lower()
    words = re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", before)[-_HEDGE_WINDOW:]
    for word in words:
        bare = word.replace("'", "").replace("’", "")
        if word in _V.hedges or bare in _V.hedges:
            return True
        if word.endswith(("n't", "n’t", "'ll", "’ll", "'d", "’d")):
            return True
    if "no longer" in " ".join(words):
        return True
    terminator = _TERMINATOR.search(line, end, end + _REACH)
    if terminator and terminator.group() == "?":
        return True
    return deadline and bool(_DEADLINE_AFTER.match(line, end))


def _decide(hits: list[_Hit]) -> Outcome | None:
    terminal = [hit for hit in hits if hit.outcome not in PROPOSAL_OUTCOMES]
    if not terminal:
        # "Proposal drafted … sent it this morning": once it is out, it is out.
        if any(hit.outcome == "proposal_sent" for hit in hits):
            return "proposal_sent"
        return "proposal_due" if hits else None
    top = max(hit.strength for hit in terminal)
    outcomes = {hit.outcome for hit in terminal if hit.strength == top}
    if "won" in outcomes:
        # A message that says both won and lost is a report or a muddle, not a trigger.
        return "won" if outcomes == {"won"} else None
    return "no_decision" if "no_decision" in outcomes else "lost"


_OUTCOME_WORDS: dict[str, Outcome] = {
    "won": "won", "win": "won", "closedwon": "won",
    "lost": "lost", "loss": "lost", "lose": "lost", "closedlost": "lost",
    "nodecision": "no_decision", "nd": "no_decision", "closednodecision": "no_decision",
    "proposal": "proposal_sent", "proposalsent": "proposal_sent",
}  # fmt: skip


def parse_outcome(text: str) -> Outcome | None:
    """The outcome a text states, by the grammar above; a single bare word ("won", "loss",
    "no-decision", "nd", ...) also counts, for the `/loop deal` command's first word."""
    if not isinstance(text, str):
        return None
    word = text.strip().strip("!.:").lower()
    if len(word) <= 24 and re.fullmatch(r"[a-z][a-z\s\-_/]*", word):
        found = _OUTCOME_WORDS.get(re.sub(r"[\s\-_/]", "", word))
        if found:
            return found
    return _decide(_find_hits(_plain(text[:_PARSE_LIMIT])))


# ------------------------------------------------------------------- word-driven rules
# The words below come from bot/deals/words/*.toml (and a team's DEAL_WORDS_DIR): the
# grammar is code, the vocabulary is data. They are compiled once, at import, and again
# only when use_deal_words() is called with a team's folder.

_ACCENTS = {
    "a": "aáàâä", "e": "eéèêë", "i": "iíìîï", "o": "oóòôö", "u": "uúùûü", "n": "nñ", "c": "cç",
}  # fmt: skip
_ACCENT_CLASS = {ch: f"[{group}]" for group in _ACCENTS.values() for ch in group}


_SPACE = r"[\s\-_/]+"


def _tokens(phrase: str) -> list[str]:
    """A phrase as regex pieces, one per character (a run of spaces is one piece)."""
    out: list[str] = []
    for ch in phrase.lower():
        if ch.isspace():
            if not out or out[-1] != _SPACE:
                out.append(_SPACE)
        elif ch in "'’":
            out.append("['’]")
        else:
            out.append(_ACCENT_CLASS.get(ch) or re.escape(ch))
    return out


def _phrase(phrase: str) -> str:
    """A phrase as a regex: any case, any accents, spaces as any run of spaces/-/_//."""
    return "".join(_tokens(phrase))


def _alternation(phrases: tuple[str, ...] | list[str]) -> str:
    """All phrases as one regex, shared beginnings factored out ("closed (?:won|lost)"):
    a flat alternation of a hundred phrases is tried phrase by phrase at every position
    of the text, a factored one a character at a time. A phrase that is the beginning of
    a longer one comes after it (greedy), so "closed lost - no decision" wins."""
    trie: dict[str, Any] = {}
    for phrase in phrases:
        if phrase.strip():
            node = trie
            for token in _tokens(phrase.strip()):
                node = node.setdefault(token, {})
            node[""] = {}
    body = _emit(trie)
    if not body:
        return r"(?!x)x"
    # A case-insensitive alternation is tried branch by branch at every position of a
    # line; one character-class test of the letters a phrase can start with turns most
    # positions away first (it only ever fails where no branch could match).
    return f"(?=[{_first_chars(phrases)}])(?:{body})"


def _first_chars(phrases: tuple[str, ...] | list[str]) -> str:
    """Every character the phrases can start with (as _tokens() reads them), for a class."""
    chars: set[str] = set()
    for phrase in phrases:
        if phrase.strip():
            ch = phrase.strip().lower()[0]
            group = _ACCENT_CLASS.get(ch)
            chars.update("'’" if ch in "'’" else group[1:-1] if group else ch)
    return "".join(re.escape(ch) for ch in sorted(chars))


def _emit(node: dict[str, Any]) -> str:
    branches = [token + _emit(child) for token, child in node.items() if token]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:  # a phrase may end here: the longer ones are tried first
        return body + "?" if len(branches) == 1 and len(body) == 1 else f"(?:{body})?"
    return body


_WB = r"(?<![\w'’])"  # a phrase starts a word
_WE = r"(?![\w'’])"  # ...and ends one


@dataclass(frozen=True)
class _Vocab:
    hedges: frozenset[str]
    stage_value: str  # named groups nd / won / lost / proposal
    stage_term: str  # the same, unnamed
    stage_field: re.Pattern[str]
    move: re.Pattern[str]
    arrow: re.Pattern[str]
    stage_before_arrow: re.Pattern[str]
    previous_field: re.Pattern[str]
    closed: re.Pattern[str]
    report_next: re.Pattern[str]
    verb: re.Pattern[str]  # named groups won / lost
    lost_lead: re.Pattern[str]
    lost_after: re.Pattern[str]
    reason_lost: re.Pattern[str]
    nd_lead: re.Pattern[str]
    statement: re.Pattern[str]  # named groups won / lost / nd
    account_field: re.Pattern[str]
    owner_email: re.Pattern[str]
    owner_mention: re.Pattern[str]
    amount_label: re.Pattern[str]
    open_stage: re.Pattern[str]
    only_stage: re.Pattern[str]
    any_stage: re.Pattern[str]
    ask_outcome: re.Pattern[str]
    chatter: re.Pattern[str]
    # Per word rule, words (folded, see _fold) a line must hold for the rule to match;
    # "any" holds them all, with the lost_lead verbs and the stage names.
    needs: dict[str, re.Pattern[str]]


def _compile(words: DealWords) -> _Vocab:
    def alt(table: str, key: str, *extra: str) -> str:
        return _alternation([*words.get(table, key), *extra])

    def outcome_groups(table: str, prefix: str, named: bool) -> str:
        parts = []
        for group, key in (
            ("nd", f"{prefix}no_decision"),
            ("won", f"{prefix}won"),
            ("lost", f"{prefix}lost"),
            ("proposal", f"{prefix}proposal_sent"),
            ("due", f"{prefix}proposal_due"),
        ):
            phrases = words.get(table, key)
            if phrases:
                body = _alternation(phrases)
                parts.append(f"(?P<{group}>{body})" if named else f"(?:{body})")
        return "|".join(parts) or r"(?!x)x"

    value = rf"{_WB}(?:{outcome_groups('stages', '', True)}){_WE}"
    term = rf"{_WB}(?:{outcome_groups('stages', '', False)}){_WE}"
    value_end = (
        r"(?=\s*(?:$|[^\w\s]|(?:for|on|at|by|with|from|today|yesterday|in|en|por|pour|para|sur"
        r"|dans|de|del|du|le|el|à)(?![\w'’])))"
    )
    label_start = r"(?:^|(?<=[|•;]))\s*"
    arrows = r"(?:→|->|=>|⇒|»)"
    report = _alternation(words.get("guards", "report"))
    return _Vocab(
        hedges=frozenset(w.lower() for w in words.get("guards", "hedges")),
        stage_value=value,
        stage_term=term,
        stage_field=re.compile(
            rf"{label_start}(?:{alt('labels', 'stage')})\s*[:=]\s*{_QUOTE_OPEN}(?:{value})"
            rf"{_QUOTE_CLOSE}{value_end}",
            re.I,
        ),
        move=re.compile(
            rf"{_WB}(?:{alt('verbs', 'move')})(?:\s+\S+){{0,4}}?\s+(?:{alt('verbs', 'move_to')})"
            rf"\s+{_QUOTE_OPEN}(?:{value}){_QUOTE_CLOSE}{value_end}",
            re.I,
        ),
        arrow=re.compile(rf"{arrows}\s*{_QUOTE_OPEN}(?:{value}){_QUOTE_CLOSE}{value_end}", re.I),
        stage_before_arrow=re.compile(rf"(?:{term}){_QUOTE_CLOSE}\s*(?={arrows})", re.I),
        previous_field=re.compile(
            rf"{label_start}(?:{alt('labels', 'previous_stage')})\s*[:=][^|\n;•]*", re.I
        ),
        closed=re.compile(rf"{_WB}(?:{outcome_groups('stages', 'closed_', True)}){_WE}", re.I),
        report_next=re.compile(rf"\s*(?:{report}){_WE}", re.I),
        verb=re.compile(
            rf"{_WB}(?:(?P<won>{alt('verbs', 'won')})|(?P<lost>{alt('verbs', 'lost')}))"
            rf"(?:\s+(?:the|a|our|this|el|la|le|l['’]|un|une|del)?\s*"
            rf"(?:deal|negocio|affaire|contract|contrato|contrat|account|cuenta|compte))?"
            rf"(?:\s+(?:with|for|con|avec|de|à|a|chez))?(?=\s)",
            re.I,
        ),
        lost_lead=re.compile(rf"^[^\w@]*(?:{alt('verbs', 'lost_lead')})(?=\s)", re.I),
        lost_after=re.compile(
            rf"\s*(?:[:,\-\u2013\u2014]|\s)\s*(?:{alt('reasons', 'lost_after')}){_WE}", re.I
        ),
        reason_lost=re.compile(rf"{_WB}(?:{alt('reasons', 'lost')}){_WE}", re.I),
        nd_lead=re.compile(rf"{_WB}(?:{alt('verbs', 'no_decision')})(?=\s)", re.I),
        statement=re.compile(
            rf"{_WB}(?:(?P<nd>{alt('statements', 'no_decision')})|(?P<won>"
            rf"{alt('statements', 'won')})|(?P<lost>{alt('statements', 'lost')})"
            rf"|(?P<proposal>{alt('statements', 'proposal_sent')})"
            rf"|(?P<due>{alt('statements', 'proposal_due')})){_WE}"
            # ...ending its clause, or followed by a name or a linking word ("Deal lost steam"
            # and "Affaire perdue de vue" are no loss; "Deal Lost Company: Oscorp" is).
            r"(?=\s*(?:$|[^\w\s]|(?-i:[A-ZÀ-ÖØ-Ý\d])|(?:with|for|to|con|avec|por|pour|para|a|à|en"
            r"|at|on|chez)\s))",
            re.I,
        ),
        account_field=re.compile(
            rf"(?:^|(?<=[|•;])|(?<=\s))(?:{alt('labels', 'account')})\s*[:=]\s*(?P<value>.+)$",
            re.I,
        ),
        owner_email=re.compile(
            rf"(?<![\w@])(?:{alt('labels', 'owner')})(?![\w])\s*[:=]?\s*[^\n|;:,]{{0,60}}?"
            r"(?P<email>[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
            re.I,
        ),
        owner_mention=re.compile(
            rf"(?<![\w@])(?:{alt('labels', 'owner')})\s*[:=]\s*<@([UW][A-Z0-9]{{2,}})"
            r"(?:\|[^<>]*)?>",
            re.I,
        ),
        amount_label=re.compile(
            rf"(?<![\w])(?:{alt('labels', 'amount')}){_AMOUNT_LABEL_TAIL}", re.I
        ),
        open_stage=re.compile(rf"(?:{alt('stages', 'open')})(?:\s+\S+){{0,3}}", re.I),
        any_stage=re.compile(term, re.I),
        only_stage=re.compile(rf"\W*(?:{term})\W*", re.I),
        ask_outcome=re.compile(rf"{_WB}(?:{alt('ask', 'outcome')}){_WE}", re.I),
        chatter=re.compile(rf"{_WB}(?:{alt('ask', 'chatter')}){_WE}", re.I),
        needs={
            rule: _any_of(
                _needed_words(phrase for table, key in keys for phrase in words.get(table, key))
            )
            for rule, keys in {**_RULE_WORDS, **_CLEANUP_WORDS, "any": _ALL_RULE_WORDS}.items()
        },
    )


# Which word lists each word rule is built from (see _word_matches).
_RULE_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "stage_field": (("labels", "stage"),),
    "move": (("verbs", "move"),),
    "closed": (
        ("stages", "closed_won"),
        ("stages", "closed_lost"),
        ("stages", "closed_no_decision"),
    ),
    "verb": (("verbs", "won"), ("verbs", "lost")),
    "lost_after": (("reasons", "lost_after"),),
    "reason_lost": (("reasons", "lost"),),
    "nd_lead": (("verbs", "no_decision"),),
    "statement": tuple(("statements", key) for key in SCHEMA["statements"]),
}
# Not rules, but clean-ups with the same kind of gate (see _clean_line).
_CLEANUP_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "stage": tuple(
        ("stages", key) for key in ("won", "lost", "no_decision", "proposal_sent", "proposal_due")
    ),
    "previous": (("labels", "previous_stage"),),
    "account": (("labels", "account"),),
    "amount": (("labels", "amount"),),
}
_ALL_RULE_WORDS = (
    *(pair for keys in _RULE_WORDS.values() for pair in keys),
    ("verbs", "lost_lead"),
    ("stages", "won"),
    ("stages", "lost"),
    ("stages", "no_decision"),
    ("stages", "proposal_sent"),
    ("stages", "proposal_due"),
)
# Folding makes a substring test as forgiving as the patterns: any case, any accent of
# _ACCENTS, both apostrophes. Letters whose lowercase is two characters ("İ") or that
# ignore-case matching pairs with a plain letter ("ı", "ſ") are mapped first.
_FOLD_SPECIAL = (("İ", "i"), ("ı", "i"), ("ſ", "s"), ("’", "'"))
_FOLD_ACCENTS = tuple((ch, base) for base, group in _ACCENTS.items() for ch in group if ch != base)


# Any character _fold() changes beyond lowercasing (accents in both cases).
_FOLDABLE = re.compile(
    "["
    + "".join(special for special, _ in _FOLD_SPECIAL)
    + "".join(accented + accented.upper() for accented, _ in _FOLD_ACCENTS)
    + "]"
)


def _fold(text: str) -> str:
    if text.isascii() or not _FOLDABLE.search(text):
        return text.lower()  # most lines: nothing to fold but the case (İ has no other)
    # A few replace() calls: str.translate() looks up every character in Python objects.
    for special, plain in _FOLD_SPECIAL:
        if special in text:
            text = text.replace(special, plain)
    text = text.lower()
    for accented, plain in _FOLD_ACCENTS:
        if accented in text:
            text = text.replace(accented, plain)
    return text


def _needed_words(phrases: Iterator[str]) -> tuple[str, ...]:
    """The longest word of each phrase, folded: a line that holds none of them cannot
    match any phrase (a phrase's words stand in the line as they are, only the gaps
    between them vary)."""
    needed = {max(_fold(p).split(), key=len) for p in phrases if p.strip()}
    return tuple(sorted(needed))


_WORDS: DealWords = load_deal_words()
_V: _Vocab = _compile(_WORDS)
_V_SOURCE: Path | None = None


def current_words() -> DealWords:
    """The words in use (shipped, plus a team's folder once use_deal_words() read it): the
    `/loop` commands read outcomes and time units from them too (bot/deals/commands.py)."""
    return _WORDS


def use_deal_words(directory: Path | None) -> None:
    """Read a team's word files (the DEAL_WORDS_DIR setting) on top of the shipped ones,
    or go back to the shipped ones alone (None). Called when the runtime is built; raises
    DealWordsError naming the file when one is bad, and then keeps the words it had."""
    global _V, _V_SOURCE, _LAST, _WORDS
    if directory == _V_SOURCE:
        return
    words = load_deal_words(directory)
    _V = _compile(words)
    _WORDS = words
    _V_SOURCE = directory
    _LAST = None


# After the account a verb names: the end, punctuation, an amount or a linking word
# ("just closed Acme for $5k", "Cerramos Peña por 25.000 €", "On a gagné Lefèvre !").
_AFTER_VERB_NAME = re.compile(
    r"\s*(?:$|[^\w\s]|[$€£\d]|(?:for|por|pour|after|tras|après|today|hoy|aujourd|this|last"
    r"|with|con|avec|in|en|deal|renewal|contract|today|yesterday|ayer|hier)(?![\w]))",
    re.I,
)
_NAME_ENDS = re.compile(r"\s*(?:$|[^\w\s])")


def _ended(line: str, end: int) -> bool:
    """True when a name that ends at `end` ends its clause (its own punctuation counts)."""
    return line[end - 1 : end] in _CLOSERS + "." or bool(_NAME_ENDS.match(line, end))


def _english_gates() -> None:
    global _GATES
    gates: tuple[tuple[tuple[str, ...], Callable[[str, str], Iterator[_Match]]], ...] = (
        (("won", "lost", "decision", "proposal", "status", "nothing"), _stage_matches),
        (("closed",), _closed_matches),
        (("won", "lost"), _won_lost_matches),
        (("sign",), _signed_matches),
        (("lost", "went", "gone", "chose", "picked", "selected", "switched", "moved", "stayed",
          "stuck"), _lost_to_matches),
        (("decision", "nothing", "status quo", "not to", "inertia", "do-nothing"),
         _no_decision_matches),
        (("propos",), _proposal_matches),
    )  # fmt: skip
    _GATES = tuple((_any_of(words), rules) for words, rules in gates)


_WORD_ARROW_GATE = _any_of(("→", "->", "=>", "⇒", "»"))


def _word_matches(line: str, folded: str) -> Iterator[_Match]:
    """The rules whose words come from the word files (all languages). A rule runs only
    on a line holding one of the words it needs (_Vocab.needs)."""
    needs = _V.needs
    if needs["any"].search(folded) is None:
        return  # not one word of any rule: most lines of a post
    # The rule families keep the order they always ran in: the hits keep it, and a line
    # past _MAX_HITS keeps only its first matches.
    yield from _word_stage_matches(line, folded)
    if needs["closed"].search(folded):
        yield from _word_closed_matches(line)
    if needs["verb"].search(folded):
        yield from _word_verb_matches(line)
    yield from _word_lost_matches(line, folded)
    if needs["nd_lead"].search(folded):
        yield from _word_no_decision_lead_matches(line)
    if needs["statement"].search(folded):
        yield from _word_statement_matches(line)


def _word_stage_matches(line: str, folded: str) -> Iterator[_Match]:
    """A stage written as a field, a move or an arrow: the strongest evidence (3), as
    CRM notifications write it."""
    needs = _V.needs
    # A field needs its separator: most lines have neither, and the check is cheaper
    # than the regular expression.
    if (":" in line or "=" in line) and needs["stage_field"].search(folded):
        for m in _each(_V.stage_field, line):
            yield _group_outcome(m), 3, m.start(), m.end(), None
    if needs["move"].search(folded):
        for m in _each(_V.move, line):
            yield _group_outcome(m), 3, m.start(), m.end(), None
    if _WORD_ARROW_GATE.search(line):
        for m in _each(_V.arrow, line):
            yield _group_outcome(m), 3, m.start(), m.end(), None


def _word_verb_matches(line: str) -> Iterator[_Match]:
    """A verb before an account ("we won Acme"): it counts only when the account ends its
    clause or runs into punctuation, an amount or a linking word (_AFTER_VERB_NAME)."""
    for m in _each(_V.verb, line):
        found = _leading_name(line, m.end())
        if found is None or _not_an_account(found[0]):
            continue
        if _AFTER_VERB_NAME.match(line, found[1]) or _ended(line, found[1]):
            yield _group_outcome(m), 1, m.start(), found[1], found[0]


def _word_lost_matches(line: str, folded: str) -> Iterator[_Match]:
    """The losses the word files spell out: a leading "Lost:" before a name, a name
    before "lost", and a stated reason for a loss."""
    needs = _V.needs
    lead = _V.lost_lead.match(line)
    if lead:
        found = _leading_name(line, lead.end())
        if found and not _not_an_account(found[0]) and _ended(line, found[1]):
            yield "lost", 1, lead.start(), found[1], found[0]
    if needs["lost_after"].search(folded):
        yield from _word_lost_after_matches(line)
    if needs["reason_lost"].search(folded):
        for m in _each(_V.reason_lost, line):
            yield "lost", 1, m.start(), m.end(), None


def _word_lost_after_matches(line: str) -> Iterator[_Match]:
    for m in _each(_V.lost_after, line):
        found = _trailing_name(line[: m.start()])
        # Only a name that opens the line: "Acme lost", not "we told Acme we lost".
        if found and not _not_an_account(found[0]) and not re.search(r"\w", line[: found[1]]):
            yield "lost", 1, found[1], m.end(), found[0]


def _word_no_decision_lead_matches(line: str) -> Iterator[_Match]:
    for m in _each(_V.nd_lead, line):
        found = _leading_name(line, m.end())
        if found and not _not_an_account(found[0]) and _ended(line, found[1]):
            yield "no_decision", 1, m.start(), found[1], found[0]


def _word_statement_matches(line: str) -> Iterator[_Match]:
    for m in _each(_V.statement, line):
        # "closed won deals this quarter" announces a report, not a deal.
        if not (_V.report_next.match(line, m.end()) or _REPORT_NEXT.match(line, m.end())):
            yield _group_outcome(m), 1, m.start(), m.end(), None


def _word_closed_matches(line: str) -> Iterator[_Match]:
    for m in _each(_V.closed, line):
        if _V.report_next.match(line, m.end()) or _REPORT_NEXT.match(line, m.end()):
            continue
        if _COUNT_BEFORE.search(_tail(line, m.start())) or _V.report_next.search(
            line[max(0, m.start() - 30) : m.start()]
        ):
            continue
        yield _group_outcome(m), 2, m.start(), m.end(), None


# ---------------------------------------------------------------------------- accounts

_ABBREVIATIONS = frozenset({"inc.", "co.", "corp.", "ltd.", "llc.", "bros.", "plc."})
_CONNECTORS = frozenset(
    {"&", "+", "of", "de", "du", "des", "del", "la", "le", "van", "von", "der", "-", "–", "y", "et"}
)
_OPENERS = "(\"“‘'[«"
_CLOSERS = ",;:!?)]\"”’'·»"
_NOT_ACCOUNTS = frozenset(
    {
        "we", "i", "you", "they", "he", "she", "it", "us", "them", "our", "my", "your", "their",
        "team", "everyone", "all", "folks", "guys", "update", "news", "fyi", "stage", "status",
        "amount", "owner", "deal", "deals", "opportunity", "opp", "account", "the", "this",
        "that", "a", "an", "congrats", "congratulations", "yay", "woohoo", "great", "big",
        "huge", "another", "today", "yesterday", "tonight", "finally", "just", "officially",
        "also", "so", "and", "but", "hey", "hi", "hello", "wow", "proposal", "contract",
        "client", "customer", "rep", "competitor", "competition", "boom", "nice", "awesome",
        "amazing", "good", "bad", "sadly", "unfortunately", "note", "reminder", "closed",
        "won", "lost", "signed", "win", "loss", "no", "yes", "ok", "okay",
        "q1", "q2", "q3", "q4", "h1", "h2", "monday", "tuesday", "wednesday", "thursday",
        "friday", "saturday", "sunday", "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december", "internet", "wifi",
        "wi-fi", "power", "slack", "zoom", "teams", "vpn", "email", "gmail", "outlook",
        "salesforce", "hubspot", "legal", "finance", "procurement", "security", "management",
        "leadership", "marketing", "sales", "hr", "new", "name", "value", "pipeline",
        "dealstage", "marking", "marked", "estado", "statut", "etapa", "étape", "fase", "phase",
        "negociación", "négociation", "oportunidad", "opportunité", "l'opportunité",
        "la", "el", "le", "l'affaire", "affaire", "negocio", "transaction", "propuesta",
        "proposition", "ganado", "perdido", "gagné", "perdu", "enviado", "envoyé",
        "estoy", "estamos", "je", "nous", "on",
    }
)  # fmt: skip
# Default Salesforce and HubSpot stage names: the old side of "from Negotiation to Closed
# Won" sits right where an account name would.
_STAGE_NAMES = frozenset(
    {
        "prospecting", "qualification", "needs analysis", "value proposition",
        "id. decision makers", "id decision makers", "perception analysis",
        "proposal/price quote", "negotiation/review", "negotiation", "review", "discovery",
        "demo", "appointment scheduled", "qualified to buy", "presentation scheduled",
        "decision maker bought-in", "contract sent", "commit", "best case", "omitted",
    }
)  # fmt: skip
_BOLD_LINE = re.compile(r"^\*([^*\n]{1,200})\*$")
# Where a name stops in a field value or a title: a field separator, an amount, or a
# delimiter followed by a stage word ("Acme – Closed Won", "Acme ($50,000)").
_CUT_AT = re.compile(
    r"\s*(?:\||\(\s*(?:[$€£\d]|US\$)|(?:[$€£]|US\$)\s?\d|\s(?=closed[\s\-/_]*(?:won|lost|no))"
    r"|(?:[:(\u2014]|\s[-\u2013]\s|,)\s*(?:closed\b|stage\b|won\b|lost\b|no[\s-]*decision"
    r"|proposal\b|deal\s+(?:won|lost)|signed\b|amount\b)).*$",
    re.I,
)
_GENERIC_TITLE = re.compile(
    r"^(?:new\s+)?(?:deal|opportunity|opp|record|stage|pipeline)s?\b.*"
    r"\b(?:updated?|created|changed|moved|alert|notification)$"
    r"|\b(?:updated|created|notification|alert)$",
    re.I,
)
_JUNK_CHARS = " \t:|-\u2013\u2014>=→,·"
# Words between an account and its outcome: "Acme Corp renewal is closed won", "Hooli: they
# went with a competitor".
_JUNK_WORDS = frozenset(
    {"is", "was", "has", "have", "been", "just", "now", "officially", "finally", "got", "are",
     "be", "also", "the", "deal", "opportunity", "opp", "account", "stage", "moved", "changed",
     "updated", "set", "marked", "as", "to", "into", "our", "status", "they", "we", "i", "you",
     "team", "@rep"}
)  # fmt: skip
# ...but "Acme – Renewal" names the opportunity: these only go when written in lowercase.
_LOWERCASE_JUNK_WORDS = frozenset(
    {"renewal", "expansion", "upsell", "contract", "rfp", "bid", "order", "business"}
)
# Delimiters, emoji and arrows may sit between an outcome and the name after it.
_AFTER_LEAD = re.compile(
    r"\s*(?:[^\w\s$€£@#(«]+\s*|(?:for|with|at|on|from|con|avec|por|para|pour|chez|sur|en|a|à|de)\s+)"
    r"(?:(?:the\s+|el\s+|la\s+|l['’])?(?:item|lead|deal|opportunity|company|account|elemento"
    r"|élément|negocio|affaire)\s*:?\s+)?",
    re.I,
)
_WITH_NAME = re.compile(r"(?<![\w])(?<!went )(?<!gone )(?<!stayed )(?<!stuck )with\s+", re.I)
_TO_NAME = re.compile(r"(?<![\w])to\s+", re.I)


def _is_name_word(word: str) -> bool:
    if not word or not re.fullmatch(r"[\w&'’.+-]+", word) or word.startswith("_"):
        return False
    if word[0].isupper():
        return True
    # "3M", "7-Eleven", "1Password" are names; "50k", "2024" and "12.5" are not.
    return (
        word[0].isdigit()
        and any(ch.isalpha() for ch in word)
        and not re.fullmatch(r"\d+(?:[.,]\d+)?(?:k|m|mm|bn|st|nd|rd|th|s)?", word, re.I)
    )


def _core(raw: str, *, first: bool) -> tuple[str, bool]:
    """A token without surrounding punctuation, and whether that punctuation ends a name."""
    core = raw.lstrip(_OPENERS) if first else raw
    stripped = core.rstrip(_CLOSERS)
    stop = stripped != core
    if stripped.endswith(("'s", "’s")):
        stripped, stop = stripped[:-2], True
    if stripped.endswith(".") and stripped.lower() not in _ABBREVIATIONS:
        stripped, stop = stripped.rstrip("."), True
    return stripped, stop


def _leading_name(text: str, pos: int = 0) -> tuple[str, int] | None:
    """The capitalised name starting at `pos` (after spaces), with where it ends."""
    words: list[str] = []
    pending: list[str] = []
    end = pos
    tokens = list(re.finditer(r"\S+", text[pos : pos + 200]))
    for index, token in enumerate(tokens):
        raw = token.group()
        core, stop = _core(raw, first=not words)
        if words and not stop and core.lower() in _CONNECTORS:
            pending.append(core)
            continue
        if words and not pending and _numbered_name(core, stop, tokens[index + 1 : index + 2]):
            pass  # "Studio 54", "Area 51 Outfitters": the number is part of the name
        elif not _is_name_word(core) or raw.endswith(":"):
            break  # "Amount:" is the next field's label, not part of a name
        words.extend(pending)
        pending.clear()
        words.append(core)
        end = pos + token.end()
        if stop or len(words) >= 8:
            break
    if not words:
        return None
    return " ".join(words), end


def _numbered_name(core: str, stop: bool, following: list[re.Match[str]]) -> bool:
    """A short plain number after a name word belongs to the name when the name ends with
    it or goes on after it: "Studio 54", "Route 66 Diner"; not "Acme 220 seats"."""
    if not re.fullmatch(r"\d{1,4}", core):
        return False
    if stop or not following:
        return True
    nxt, _ = _core(following[0].group(), first=False)
    return _is_name_word(nxt) and not re.fullmatch(r"\d+", nxt)


def _trailing_name(text: str) -> tuple[str, int] | None:
    """The capitalised name that ends `text`, with where it starts."""
    tokens = list(re.finditer(r"\S+", text[-200:]))
    offset = max(len(text) - 200, 0)
    words: list[str] = []
    pending: list[str] = []
    start = len(text)
    for index, token in enumerate(reversed(tokens)):
        raw = token.group()
        if index == 0:
            raw = raw.rstrip(_CLOSERS)
        elif raw[-1] in _CLOSERS or raw.endswith("."):
            break
        opened = raw[:1] in _OPENERS
        core = raw.lstrip(_OPENERS)
        if words and core.lower() in _CONNECTORS:
            pending.insert(0, core)
            continue
        if core.endswith(("'s", "’s")) or not _is_name_word(core):
            break
        words[:0] = [*([core] if not pending else [core, *pending])]
        pending.clear()
        start = offset + token.start()
        if opened or len(words) >= 8:
            break
    if not words:
        return None
    return " ".join(words), start


def _name_within(text: str | None) -> str | None:
    """The first capitalised name inside a few words ("big Acme " -> "Acme")."""
    if not text:
        return None
    for token in re.finditer(r"\S+", text):
        if token.group()[:1].isupper():
            found = _leading_name(text, token.start())
            if found and not _not_an_account(found[0]):
                return found[0]
    return None


def _not_an_account(name: str) -> bool:
    lowered = name.lower().rstrip(".")
    return (
        lowered in _NOT_ACCOUNTS or lowered in _STAGE_NAMES or not any(ch.isalpha() for ch in name)
    )


def _tidy_account(value: str | None) -> str | None:
    """Drop greeting and label words around a name and keep it short; None if nothing is left."""
    if not value:
        return None
    words = value.split()
    while words and (words[0].lower() in _NOT_ACCOUNTS or words[0].lower() in _CONNECTORS):
        words.pop(0)
    while words and words[-1].lower() in _CONNECTORS:
        words.pop()
    name = " ".join(words).strip(" -–—:|,;!?\"“”'‘’()[]·«»")
    if name.endswith(("'s", "’s")):
        name = name[:-2]
    if not name or _not_an_account(name):
        return None
    if len(name) > ACCOUNT_LIMIT:
        cut = name[:ACCOUNT_LIMIT]
        name = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" -–—:|,;")
    return name or None


_ONLY_STAGE = re.compile(rf"\W*(?:{_STAGE_TERM})\W*", re.I)


def _clean_account(value: str) -> str | None:
    """An account from a field value or a title: plain text, stage words and amounts cut."""
    text = _plain(value).split("\n")[0].strip()
    if _GENERIC_TITLE.search(text):
        return None
    text = _CUT_AT.sub("", text)
    if _CLOSED.search(text) or _ONLY_STAGE.fullmatch(text):
        return None
    if _V.closed.search(text) or _V.only_stage.fullmatch(text):
        return None
    if text[:1].islower() and " " in text:
        return None  # a sentence ("said they went dark"), not a company name
    if "@" in text or _V.statement.search(text):
        return None  # an owner's e-mail, or a heading ("New Deal Closed"), is no account
    return _tidy_account(text)


def _titles(event: dict[str, Any]) -> list[str]:
    titles = [_scalar(att.get("title")) for att in _dicts(event.get("attachments"))]
    for block in _dicts(event.get("blocks")):
        if block.get("type") == "header":
            titles.append(_text_object(block.get("text")))
    return [title for title in titles if title.strip()]


def _without_trailing_junk(text: str) -> str:
    """ "Opportunity Acme – Renewal moved to " -> "Opportunity Acme – Renewal"."""
    while True:
        text = text.rstrip(_JUNK_CHARS)
        head, _, last = text.rpartition(" ")
        if last.lower() not in _JUNK_WORDS and last not in _LOWERCASE_JUNK_WORDS:
            return text
        text = head


_FIELD_BEFORE = re.compile(r"(?:[^\w\s'’]|(?<![\w])(?:for|on|to|en|pour|para|sur|a|à))\s*$", re.I)


def _name_line(lines: list[str], index: int) -> str | None:
    """A name alone on its line, under a heading ("*New Deal Closed*" / "Initrode")."""
    if index >= len(lines):
        return None
    line = lines[index].strip().rstrip(".!·")
    found = _leading_name(line, 0)
    if found is None or found[1] < len(line.rstrip()) or len(found[0].split()) > 6:
        return None
    return _tidy_account(found[0])


_QUOTED_NAME = re.compile(r"[«“\"]\s*([^«»“”\"\n]{2,80}?)\s*[»”\"]")


def _account_near(hit: _Hit) -> str | None:
    if hit.account:
        found = _tidy_account(hit.account)
        if found:
            return found
    quoted = [m.group(1) for m in _QUOTED_NAME.finditer(_tail(hit.line, hit.start, _REACH))]
    if quoted and quoted[-1][:1].isupper():
        name = _tidy_account(quoted[-1])
        if name:
            return name
    before = _without_trailing_junk(hit.line[: hit.start])
    found_before = _trailing_name(before)
    if found_before and not re.search(r"(?<![\w])from\s*$", before[: found_before[1]], re.I):
        name = _tidy_account(found_before[0])
        if name:
            return name
    # A name may follow the match directly ("closed/won Acme Corp") or after a delimiter.
    lead = _AFTER_LEAD.match(hit.line, hit.end)
    if lead or hit.line[hit.end : hit.end + 1].isspace():
        after = _leading_name(hit.line, lead.end() if lead else hit.end)
        if after:
            name = _tidy_account(after[0])
            if name:
                return name
    return None


def _account_in_line(hit: _Hit) -> str | None:
    patterns = [_WITH_NAME, _TO_NAME] if hit.outcome in PROPOSAL_OUTCOMES else [_WITH_NAME]
    for pattern in patterns:
        for m in pattern.finditer(hit.line, hit.start):
            found = _leading_name(hit.line, m.end())
            name = _tidy_account(found[0]) if found else None
            if name:
                return name
    return None


def _find_account(
    event: dict[str, Any], raw_lines: list[str], lines: list[str], hits: list[_Hit]
) -> str | None:
    """The account, from the most to the least explicit place it can be written: a
    labelled field, an attachment's title, the words around an outcome, a bold line, the
    line after an outcome, anywhere on an outcome's line, a link's label."""
    return (
        _account_from_fields(lines)
        or _account_from_titles(event)
        or _first_account(hits, _account_near)
        or _account_from_bold_lines(raw_lines)
        or _first_account(hits, lambda hit: _name_line(lines, hit.index + 1))
        or _first_account(hits, _account_in_line)
        or _account_from_link_labels(raw_lines)
    )


def _first_account(hits: list[_Hit], find: Callable[[_Hit], str | None]) -> str | None:
    for hit in hits:
        name = find(hit)
        if name:
            return name
    return None


def _account_from_fields(lines: list[str]) -> str | None:
    # Only lines with a "Label: value" and an account label word can hold the field.
    labelled = [
        line
        for line in lines
        if (":" in line or "=" in line) and _V.needs["account"].search(_fold(line))
    ]
    for anywhere in (False, True):
        for line in labelled:
            name = _account_field_value(line, anywhere=anywhere)
            if name:
                return name
    return None


def _account_field_value(line: str, *, anywhere: bool) -> str | None:
    # The first pass only wants a field at the line start: a match there is what
    # a search would find first, for a fraction of the work.
    field = _V.account_field.search(line) if anywhere else _V.account_field.match(line)
    if field is None:
        return None
    if field.start() > 0 and not _FIELD_BEFORE.search(_tail(line, field.start())):
        return None  # "Propietario del negocio:" is the owner's label, not "Negocio:"
    return _clean_account(field.group("value"))


def _account_from_titles(event: dict[str, Any]) -> str | None:
    for title in _titles(event):
        title_hits = _find_hits(_plain(title))
        if title_hits:
            # A title with an outcome ("Acme – Closed Won") names the account beside it.
            name = next((n for h in title_hits if (n := _account_near(h))), None)
        else:
            name = _clean_account(title)
        if name:
            return name
    return None


def _account_from_bold_lines(raw_lines: list[str]) -> str | None:
    for raw in raw_lines:
        bold = _BOLD_LINE.match(raw)
        name = _clean_account(bold.group(1)) if bold else None
        if name:
            return name
    return None


def _account_from_link_labels(raw_lines: list[str]) -> str | None:
    # A link labelled with a name and nothing else ("<https://crm/…|Acme Corp>").
    for raw in raw_lines:
        for link in _LINK_LABEL.finditer(raw):
            label = _plain(link.group(1)).strip()
            found = _leading_name(label, 0)
            if found and found[1] >= len(label) and (name := _tidy_account(found[0])):
                return name
    return None


_LINK_LABEL = re.compile(r"<https?://[^|<>\s]+\|([^<>]{2,80})>")


# --------------------------------------------------------------------------------- rep


_QUESTION = re.compile(r"[?¿]")


def _is_reply(event: dict[str, Any]) -> bool:
    """A thread reply (or one also sent to the channel) answers the root message: its
    "Closed won, amazing work!" is a congratulation, not a second deal."""
    thread_ts = event.get("thread_ts")
    if event.get("subtype") == "thread_broadcast":
        return True
    return isinstance(thread_ts, str) and bool(thread_ts) and thread_ts != event.get("ts")


def _poster(event: dict[str, Any]) -> str | None:
    if event.get("bot_id") or event.get("subtype") == "bot_message":
        return None
    user = event.get("user")
    return user if isinstance(user, str) and user else None


# ----------------------------------------------------------------------------- message


def parse_deal_message(event: dict[str, Any]) -> DealSignal | None:
    """None when the message has no outcome. Uses message_text(). The human poster is
    event["user"] only when the event has no bot_id (a bot's own user id is not a rep)."""
    if not isinstance(event, dict) or _is_reply(event):
        return None
    raw = message_text(event)[:_PARSE_LIMIT]
    if not raw:
        return None
    global _LAST
    key = (raw, _poster(event))
    last = _LAST  # one read: another thread may replace it
    if last is not None and last[0] == key:
        return last[1]  # the intake asks needs_asking() about the message it just parsed
    signal = _parse(event, raw)
    _LAST = (key, signal)
    return signal


# The last message parsed and its reading (a DealSignal is immutable).
_LAST: tuple[tuple[str, str | None], DealSignal | None] | None = None


def _parse(event: dict[str, Any], raw: str) -> DealSignal | None:
    text = _plain(raw)
    if _QUESTION.search(text):
        return None  # a question anywhere ("It's marked closed won but is it?") states nothing
    hits = _find_hits(text)
    outcome = _decide(hits)
    if outcome is None:
        return None
    deciding = [hit for hit in hits if hit.outcome == outcome]
    deciding.sort(key=lambda hit: -hit.strength)
    account = _find_account(event, raw.split("\n"), text.split("\n"), deciding)
    amount = _amount_in(text)
    rep_user_id, rep_email = _rep(event, raw, text)
    return DealSignal(
        outcome=outcome,
        account=account,
        amount=amount[0] if amount else None,
        currency=amount[1] if amount else None,
        rep_user_id=rep_user_id,
        rep_email=rep_email,
        source_text=raw[:SOURCE_TEXT_LIMIT],
    )


# What an owner mention and an owner e-mail cannot do without: a cheap first look, as
# the owner patterns are tried at every character of the message.
_LABELLED_MENTION = re.compile(r"[:=]\s*<@")
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+\.", re.I)


def _rep(event: dict[str, Any], raw: str, text: str) -> tuple[str | None, str | None]:
    """Who the deal belongs to: a mention on an owner line, else the first mention, else
    an owner e-mail (with no user id, so the handler looks the owner up by e-mail instead
    of giving the deal to whoever typed it), else the person who posted."""
    owner_mention = _V.owner_mention.search(raw) if _LABELLED_MENTION.search(raw) else None
    owner = _V.owner_email.search(text) if _EMAIL_DOMAIN.search(text) else None
    email = owner.group("email") if owner else None
    if owner_mention:
        return owner_mention.group(1), email
    mention = _USER_MENTION.search(raw)
    if mention:
        return mention.group(1), email
    return (None if email else _poster(event)), email


# ------------------------------------------------------------------------ undecided posts


def needs_asking(event: dict[str, Any]) -> bool:
    """A person's post that mentions someone and an outcome word ([ask] outcome in the word
    files), but that the rules could not read as a closed deal: the intake asks the poster
    (ephemeral) instead of guessing. False for bots, thread replies, questions, quoted
    words, deals the rules did read, hedged or negated words ("we won't lose", "if we
    win") and chatter ([ask] chatter: "we won the match")."""
    if not isinstance(event, dict) or _poster(event) is None or _is_reply(event):
        return False
    raw = message_text(event)[:_PARSE_LIMIT]
    if not raw or not _USER_MENTION.search(raw):
        return False
    text = _plain(raw)
    if _QUESTION.search(text) or _V.chatter.search(text):
        return False
    if parse_deal_message(event) is not None:
        return False
    for line in text.split("\n")[:_ASK_LINES]:
        for m in _each(_V.ask_outcome, line[:_LINE_LIMIT]):
            if _ASK_AFTER.match(line, m.end()) and not _hedged(line, m.start(), m.end()):
                return True
    return False


_ASK_LINES = 12
# What may follow the outcome word for the post to be about a deal: nothing (end,
# punctuation, an emoji), a pronoun for the deal ("closed it", "won them", "lo ganó" has
# it before), or a name, directly or after a linking word ("signé pour Maison Carrel").
# "closed the door", "lost his headphones", "signed up", "a perdu ses clés" do not ask.
_ASK_AFTER = re.compile(
    r"(?:\s+(?:finally|at\s+last|in\s+the\s+end|finalmente|al\s+final|por\s+fin|finalement"
    r"|au\s+final|enfin))?"
    r"\s*(?:$|[^\w\s]|(?:it|them|that|this|one|ça|cela)(?![\w'’])|(?-i:[A-ZÀ-ÖØ-Ý])"
    r"|(?:with|for|con|por|para|avec|pour|chez)\s+(?:them|ellos|eux|(?-i:[A-ZÀ-ÖØ-Ý])))",
    re.I,
)


_english_gates()
