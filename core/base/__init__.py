"""The kernel's own addon: it uses the same extension points a partner addon does."""
