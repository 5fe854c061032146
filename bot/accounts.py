"""Account names as people type them after a subcommand (`/loop tee-up`, `/loop prep`,
`/loop screen-out`): pure text rules, shared by every ritual that takes one."""

from __future__ import annotations

import re

ACCOUNT_MAX = 200
MENTION = re.compile(r"<[@#!][^>]*>")


def parse_account(args: str) -> str:
    """The account as typed; mentions and stray punctuation around it are dropped."""
    account = MENTION.sub(" ", args)
    return re.sub(r"\s+", " ", account).strip(" -—–:,\"'")[:ACCOUNT_MAX]
