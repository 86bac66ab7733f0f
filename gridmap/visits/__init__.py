"""Members' and grid workers' visits to households (民情日志) and the requests filed from them."""
