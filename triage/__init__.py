"""triage: read-only AWS incident playbooks."""
__version__ = "0.1.0"
