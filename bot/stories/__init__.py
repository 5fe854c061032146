"""The stories channel, below the listeners: its settings (`config`), posting a story in
the week's thread (`thread`), and what the dispatcher plans and renders for it
(`planning`). handlers/stories.py holds the Slack listeners."""
