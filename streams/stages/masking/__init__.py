"""Desensitization of standardized rows: operators, the policy file and the desensitizer."""
