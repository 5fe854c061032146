"""The ids of our buttons, menus, modals and the values they carry, named once: the
message builders (bot/messages) write them and the listeners (handlers) match them, so
the two sides can't drift apart. Plain constants, importable from any layer."""

from __future__ import annotations

# --- deals, the deal intake, tee-up, prep, screen-out -----------------------------------


# --- debriefs (loss, win), the manager's call, privacy ----------------------------------


# --- concern, reflection, quiet, team, App Home, the /loop router -----------------------
