"""Provider adapters: one module per provider, each exporting PROVIDER."""
