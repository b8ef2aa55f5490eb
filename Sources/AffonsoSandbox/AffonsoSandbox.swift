// AffonsoSandbox module.
