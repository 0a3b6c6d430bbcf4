"""Telemetry: what the gateway and the worker report about themselves (metrics, traces).

At the bottom of the layers, so that every layer may report; it imports nothing of
sales_graph, and callers pass plain values in.
"""
