"""kt_ext: extends the kernel test document (tests only)."""
