"""Secondary marks: code schemes, issuing, worn-mark resolution and the mark/no-mark decision.

The service lives in `marking.service` (it uses ingest, which uses the schemes here).
"""
