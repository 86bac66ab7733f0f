"""通知: delivering the outbox (the channels and the sender)."""
