"""Staff in the loop: Twilio's REST API (twilio_rest.py) and the warm transfer (transfer.py)."""
