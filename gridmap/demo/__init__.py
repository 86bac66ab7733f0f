"""The demo district and the request generator; they call the domain rules, never copy them."""
