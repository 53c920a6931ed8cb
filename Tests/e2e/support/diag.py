"""Failure diagnostics: callables attached to the running test whose output is added to its
report when it fails (see the makereport hook in conftest.py)."""


def add_diagnostics(request, name, fn):
    node = request.node
    if not hasattr(node, "_e2e_diagnostics"):
        node._e2e_diagnostics = []
    node._e2e_diagnostics.append((name, fn))
