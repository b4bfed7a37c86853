"""The proxy server, its protocol layers, the flow model, the FlowMaster and the tools."""
