"""Asset checks, one module per asset group: what each check guards and whether it blocks."""
