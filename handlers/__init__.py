"""Slack listeners only: one module per ritual or surface, each with a `register()`, and
the shared modules they may use (the `/loop` router, the owner check, the error handler,
the debrief replies, the deal intake). bot/app.py, the composition root, wires them."""
