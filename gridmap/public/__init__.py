"""The residents' public channel (公众上报): filing without an account, following, rating."""
