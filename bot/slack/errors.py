"""Reading a SlackApiError safely: a 5xx or a proxy may answer with plain text, where
`e.response.get(...)` would itself raise."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def api_error(e: SlackApiError) -> str:
    """Slack's error code (`user_not_found`, `ratelimited`, ...) or `http_<status>`."""
    data = getattr(e.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"http_{getattr(e.response, 'status_code', 0)}"
