"""Findings and history in; report contents (JSON, HTML, JUnit XML, PNG bytes) out.

Nothing here writes files: the CLI does, so a report can be rendered and inspected in memory.
"""
