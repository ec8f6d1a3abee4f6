"""Health sources: where the planner learns which load balancers can take traffic."""
