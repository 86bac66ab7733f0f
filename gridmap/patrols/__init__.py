"""Patrols and visits (巡查走访): work lists, tracks, check-ins, coverage of households."""
