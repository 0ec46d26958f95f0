"""The run cards shipped with mcpgen, installed as the package ``mcpgen.cards``: name one by its
file stem (``mcpgen --card sct_3gev``) from any directory. Fields: docs/cards.md."""
