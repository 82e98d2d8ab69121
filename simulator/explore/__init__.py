"""Searching for failing runs around a scenario, and shrinking each to a minimal one."""
