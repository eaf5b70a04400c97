"""The sandbox's world: its users, Things, files and licences, and the seeds that make it."""
