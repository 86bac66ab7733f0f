"""The monthly review (一月一研判): where complaints concentrate, hot spots, the report."""
