"""The code that runs inside the sandbox: the worker (confinement, zygotes, the call server) and
the wire format. Standard library only, and nothing from the rest of pytest_rlgrade: this folder is
copied into the sandbox as it is (a test walks its imports to keep it so)."""
