"""The web layer: pages, JSON endpoints by concern, middleware, and the per-request context they
share. Everything below it (sign-in, jobs, reads, policy, store) knows nothing of HTTP."""
