"""CRM webhooks: the signature scheme and the adapters that read each CRM's payload."""
