"""detsim stage of mcpgen."""
