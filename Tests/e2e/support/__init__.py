"""Helpers for the Remit end-to-end suite: PKI, processes, Envoy, upstream echo, clients."""
