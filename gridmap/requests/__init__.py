"""Residents' requests (群众诉求): the lifecycle rule table, deadlines, intake, 三率."""
