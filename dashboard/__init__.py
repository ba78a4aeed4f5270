"""Real-time call wallboard and CTI console for Sukam Synapse PBXs."""
