"""The sandbox's API host: the endpoints, their rules, pagination, CORS and rate limits."""
