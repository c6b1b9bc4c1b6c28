"""One module per use-case, named after it; import from the module. Each use-case owns its
transaction through the unit of work it is given."""
