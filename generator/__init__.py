"""generator stage of mcpgen."""
