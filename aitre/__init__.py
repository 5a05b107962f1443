"""
Talking to the AITRE API (or any OpenAI-compatible server), and nothing else.

- ``aitre.client``: the HTTP client, one module per endpoint family; it never
  touches the ORM.
- ``aitre.models``: the stored API credentials and the admin's settings per
  model, capabilities included.
- ``aitre.credentials``: which key a user's calls go out with.
- ``aitre.catalog``: the models offered for each capability.
"""
