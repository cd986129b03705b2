"""What stands in front of the functions where API Gateway does not: its JWT authorizer, played."""
