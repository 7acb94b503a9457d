# Empty dependencies file for shoal_shared_tests.
# This may be replaced when dependencies are built.
