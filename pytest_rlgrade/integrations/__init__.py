"""Integrations with the ecosystem's own engines and protocols (Ray, OpenEnv, TRL).

Each lives in its own module and imports its library lazily: installing pytest-rlgrade never pulls
them in (they are extras: ``pip install 'pytest-rlgrade[ray]'``, ``[openenv]``).
"""
