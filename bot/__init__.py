"""Feedback Loop: a Slack app that nudges B2B sales reps through feedback rituals."""
