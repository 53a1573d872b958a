"""ELF facts and dynamic-loader resolution inside an image root."""
