"""Flows beyond the model: reading and writing flow files (``io``).

The FlowMaster and its features join this package as they land.
"""
from libmproxy.flow.io import FlowReader, FlowWriter, read_flows_from_paths

__all__ = ["FlowReader", "FlowWriter", "read_flows_from_paths"]
