"""The link between the engine and its viewers: wire protocol, server, client, bus."""
