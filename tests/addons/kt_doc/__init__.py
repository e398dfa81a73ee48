"""kt_doc: the kernel's test document (tests only; not shipped to clients)."""
