"""What talking to Slack needs beyond the SDK: people (time zone, language), DM
opening, error mapping, acks with a time budget, click idempotency."""
