// RelayConfig module.
