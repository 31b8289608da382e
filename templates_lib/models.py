"""Templates, locked parts, typed slots and assets: built by the template-library issue."""
