"""The pathod crafting language, the pathod server, the pathoc client and test.Daemon."""
