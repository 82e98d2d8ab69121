"""Findings and history in; report contents (JSON, HTML, JUnit XML, PNG bytes) out.

Rendering writes nothing, so a report can be rendered and inspected in memory; folder.py alone
writes a report folder, all or nothing.
"""
