"""The notes package of the sample app."""
