"""Scenario files: YAML in, a validated `Scenario` out; errors name file, line and field."""
