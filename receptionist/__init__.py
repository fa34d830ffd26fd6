"""receptionist: a real-time AI phone receptionist on Twilio Media Streams."""
