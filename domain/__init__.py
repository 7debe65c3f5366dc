"""The programme's domain, below both `handlers/` and `storage/`: pure data and rules, no I/O."""
