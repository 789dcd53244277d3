"""Everything that compares with a simulator's truth."""
