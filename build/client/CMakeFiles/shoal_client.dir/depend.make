# Empty dependencies file for shoal_client.
# This may be replaced when dependencies are built.
