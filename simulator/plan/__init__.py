"""A scenario compiled into a plan: a sorted sequence of actions, the one timeline both
executors carry out."""
