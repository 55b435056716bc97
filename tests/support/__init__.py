"""Test helpers every capability reuses: the lab, playbook runs, AWS and cluster snapshots."""
