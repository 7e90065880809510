"""HTTP routes, one module per resource; they only translate between HTTP and data functions."""
