"""Records of sale_credit (one module per record; listed in manifest.toml)."""
