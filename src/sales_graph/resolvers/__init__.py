"""Query and mutation resolvers (args -> service -> type) and the dataloaders they use."""
