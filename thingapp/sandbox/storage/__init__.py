"""The sandbox's storage host: file bytes, and the upload form target."""
