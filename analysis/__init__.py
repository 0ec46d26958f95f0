"""analysis stage of mcpgen."""
