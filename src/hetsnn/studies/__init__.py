"""What the companion studies compute on their networks: read-outs, suite scores, study runners."""
