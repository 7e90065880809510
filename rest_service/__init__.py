"""loadwatch REST service: users, cookie sessions, test runs and CPU samples on MongoDB."""
