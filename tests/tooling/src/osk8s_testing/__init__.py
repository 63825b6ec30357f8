"""osk8s test ground (test tooling only; the core and services never import it)."""
