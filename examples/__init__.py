"""Example tools for the kit; not part of the installed package."""
