// AffonsoAPI module.
