"""Durable nudges: the kinds registry, the dispatcher that claims due rows, delivery
(render, post, settle, reconcile), pacing and quiet checks. Never imports handlers or
Bolt: the composition root hands it the registry."""
