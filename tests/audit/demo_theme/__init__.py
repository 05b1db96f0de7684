"""A stand-in theme app for testing how theme apps fill their section of the support console."""
