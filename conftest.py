# Fixtures for every test in the repository (kernel and addons) live in core.testing, so that
# partners' addons can use the same ones.
pytest_plugins = ["core.testing"]
