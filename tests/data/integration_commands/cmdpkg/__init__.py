"""Commands in every state of readiness."""
