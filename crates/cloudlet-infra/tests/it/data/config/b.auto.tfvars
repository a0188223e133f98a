overridden = "auto-b"
