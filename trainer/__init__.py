"""Stacked hourglass + DALN trainer and NME evaluation."""
