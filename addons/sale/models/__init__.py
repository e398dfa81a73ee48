"""Records of the sale addon, one module per main record (and its children)."""
