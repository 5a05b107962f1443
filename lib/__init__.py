"""
The bottom layer: small public modules every app may use, importing no app
(healthchecks' ``hc/lib``). Server-sent events, content negotiation and
refusals, the admin and form bases, remembered settings rows, and giving a
database connection back. ``tests/project/test_layers.py`` keeps it at the
bottom.
"""
