"""funcbench: write the function the problem asks for here."""
