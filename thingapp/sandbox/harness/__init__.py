"""What tests use to steer the sandbox: faults, scripting endpoints, the request log."""
