"""Landmark specs (YAML) and their loader/validator."""
